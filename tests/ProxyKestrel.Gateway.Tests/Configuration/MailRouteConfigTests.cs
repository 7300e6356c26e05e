using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using System.Text;
using Microsoft.Extensions.Configuration;
using ProxyKestrel.Gateway.Configuration;
using ProxyKestrel.Gateway.Tests.Infrastructure.Transports;

namespace ProxyKestrel.Gateway.Tests.Configuration;

/// <summary>
/// Mail routes (<c>Protocol</c> <c>Imap</c>, <c>Pop3</c>, <c>Smtp</c>): reading their keys, and the start-up check that
/// lists every error (mail keys on a relaying route, bad values, a mail route sharing its endpoint, certificates).
/// </summary>
[NotPerTransport("reads and checks configuration; no gateway")]
public sealed class MailRouteConfigTests : IDisposable
{
    private readonly string _directory = Directory.CreateTempSubdirectory("mail-config-").FullName;

    public void Dispose() => Directory.Delete(_directory, recursive: true);

    [Fact]
    public void Read_TheIssuesExample_EveryKeyRead()
    {
        var errors = new List<string>();

        TcpProxyConfig config = Read("""
            "imap": {
              "Listen": "0.0.0.0:1143", "Protocol": "Imap", "ClusterId": "imap-default",
              "Users": [ { "Match": "^[a-m]", "ClusterId": "imap1" }, { "Match": "^[n-z]", "ClusterId": "imap2" } ],
              "Tls": { "CertificatePath": "/etc/mail/cert.pem", "KeyPath": "/etc/mail/key.pem", "CertificatePassword": "pw", "Implicit": "true" },
              "AllowPlaintextLogin": true, "LoginTimeout": "00:00:30", "FailedLoginDelay": "00:00:02", "MaxLineLength": 4096,
              "ServerName": "mail.example.com" },
            "pop3": { "Listen": "0.0.0.0:1110", "protocol": "pop3", "ClusterId": "pop", "AuthHttp": "http://127.0.0.1:9000/auth" },
            "smtp": { "Listen": "0.0.0.0:1587", "Protocol": "SMTP", "ClusterId": "submission" },
            "relay": { "Listen": "0.0.0.0:2525", "ClusterId": "postfix" }
            """, errors);

        Assert.Empty(errors);
        TcpRouteConfig imap = config.Routes.Single(r => r.RouteId == "imap");
        Assert.Equal(TcpRouteProtocol.Imap, imap.Protocol);
        Assert.Equal("imap-default", imap.ClusterId);
        Assert.Equal(
            [new TcpMailUserRule { Match = "^[a-m]", ClusterId = "imap1" }, new TcpMailUserRule { Match = "^[n-z]", ClusterId = "imap2" }],
            imap.Users);
        Assert.Equal(new TcpMailTlsConfig { CertificatePath = "/etc/mail/cert.pem", KeyPath = "/etc/mail/key.pem", CertificatePassword = "pw", Implicit = true }, imap.Tls);
        Assert.True(imap.AllowPlaintextLogin);
        Assert.Equal(TimeSpan.FromSeconds(30), imap.LoginTimeout);
        Assert.Equal(TimeSpan.FromSeconds(2), imap.FailedLoginDelay);
        Assert.Equal(4096, imap.MaxLineLength);
        Assert.Equal("mail.example.com", imap.ServerName);
        Assert.Null(imap.AuthHttp);

        TcpRouteConfig pop3 = config.Routes.Single(r => r.RouteId == "pop3");
        Assert.Equal(TcpRouteProtocol.Pop3, pop3.Protocol);
        Assert.Equal("http://127.0.0.1:9000/auth", pop3.AuthHttp);
        Assert.Null(pop3.Users);
        Assert.Equal(TcpRouteConfig.DefaultLoginTimeout, pop3.EffectiveLoginTimeout);
        Assert.Equal(TcpRouteConfig.DefaultFailedLoginDelay, pop3.EffectiveFailedLoginDelay);
        Assert.Equal(8192, pop3.EffectiveMaxLineLength);
        Assert.Equal("ProxyKestrel", pop3.EffectiveServerName);
        Assert.False(pop3.AllowPlaintextLogin);

        Assert.Equal(TcpRouteProtocol.Smtp, config.Routes.Single(r => r.RouteId == "smtp").Protocol);
        TcpRouteConfig relay = config.Routes.Single(r => r.RouteId == "relay");
        Assert.Equal(TcpRouteProtocol.Tcp, relay.Protocol);
        Assert.False(relay.IsMail);
    }

    [Fact]
    public void Read_BadMailValues_EachReportedWithItsPath()
    {
        var errors = new List<string>();

        TcpRouteConfig route = Read("""
            "m": { "Listen": "127.0.0.1:0", "ClusterId": "c1", "Protocol": "Nntp", "AllowPlaintextLogin": "yes", "LoginTimeout": "soon",
                   "FailedLoginDelay": "later", "MaxLineLength": "big",
                   "Users": [ { "Match": "^a", "ClusterId": "c2", "Port": 143 }, "b" ],
                   "Tls": { "CertificatePath": "c.pem", "Implicit": "maybe", "Pin": "x" } },
            "n": { "Listen": "127.0.0.1:0", "ClusterId": "c1", "Protocol": "Imap", "Users": "^a=c2" }
            """, errors).Routes[0];

        string[] expected =
        [
            "TcpProxy:Routes:m:Protocol: 'Nntp' is not a route protocol; allowed: Tcp, Imap, Pop3, Smtp.",
            "TcpProxy:Routes:m:AllowPlaintextLogin: 'yes' is not a boolean; allowed: true, false.",
            "TcpProxy:Routes:m:LoginTimeout: 'soon' is not a time span",
            "TcpProxy:Routes:m:FailedLoginDelay: 'later' is not a time span",
            "TcpProxy:Routes:m:MaxLineLength: 'big' is not a whole number; allowed: 512 to 65536.",
            "TcpProxy:Routes:m:Users:0:Port: unknown key; allowed keys: Match, ClusterId.",
            "TcpProxy:Routes:m:Users:1: 'b' is not a rule",
            "TcpProxy:Routes:m:Tls:Implicit: 'maybe' is not a boolean",
            "TcpProxy:Routes:m:Tls:Pin: unknown key; allowed keys: CertificatePath, KeyPath, CertificatePassword, Implicit.",
            "TcpProxy:Routes:n:Users: '^a=c2' is not a list of rules",
        ];
        AssertErrors(expected, errors);
        Assert.Equal("^a", route.Users![0].Match);
        Assert.Equal("c.pem", route.Tls!.CertificatePath);
    }

    [Fact]
    public void Validate_TheIssuesExample_ValidWithItsClusters()
    {
        var errors = new List<string>();
        TcpProxyConfig config = Read("""
            "imap": {
              "Listen": "0.0.0.0:1143", "Protocol": "Imap", "ClusterId": "imap-default",
              "Users": [ { "Match": "^[a-m]", "ClusterId": "imap1" }, { "Match": "^[n-z]", "ClusterId": "imap2" } ] },
            "imap-auth": { "Listen": "0.0.0.0:1144", "Protocol": "Imap", "ClusterId": "imap-default", "AuthHttp": "http://127.0.0.1:9000/auth" }
            """, errors);
        string[] clusters = ["imap-default", "imap1", "imap2"];

        TcpProxyConfigValidator.Validate(config, clusters.Contains, errors);

        Assert.Empty(errors);
    }

    [Fact]
    public void Validate_MailKeysOnATcpRoute_EachReportedAsMailOnly()
    {
        var errors = new List<string>();
        TcpProxyConfig config = Read("""
            "relay": { "Listen": "127.0.0.1:0", "ClusterId": "c1", "Users": [ { "Match": "^a", "ClusterId": "c1" } ],
                       "AuthHttp": "http://127.0.0.1:9000/auth", "Tls": { "CertificatePath": "c.pem" }, "AllowPlaintextLogin": true,
                       "LoginTimeout": "00:00:10", "FailedLoginDelay": "00:00:01", "MaxLineLength": 1024, "ServerName": "mx" },
            "plain": { "Listen": "127.0.0.1:0", "ClusterId": "c1", "Protocol": "Tcp", "AllowPlaintextLogin": false }
            """, errors);

        TcpProxyConfigValidator.Validate(config, null, errors);

        string[] keys = ["Users", "AuthHttp", "Tls", "AllowPlaintextLogin", "LoginTimeout", "FailedLoginDelay", "MaxLineLength", "ServerName"];
        AssertErrors([.. keys.Select(k => $"TcpProxy:Routes:relay:{k}: only for Protocol Imap, Pop3 or Smtp; allowed:")], errors);
    }

    [Fact]
    public void Validate_BadMailValues_EveryErrorListedWithItsKey()
    {
        var errors = new List<string>();
        TcpProxyConfig config = Read("""
            "a": { "Listen": "127.0.0.1:0", "Protocol": "Imap", "Match": { "SourceNetworks": [ "10.0.0.0/8" ] },
                   "Users": [ { "Match": "^[a-", "ClusterId": "c1" }, { "Match": "", "ClusterId": "" }, { "Match": "x", "ClusterId": "nowhere" } ],
                   "AuthHttp": "/auth", "LoginTimeout": "00:00:00", "FailedLoginDelay": "-00:00:01", "MaxLineLength": 100, "ServerName": "mail example" },
            "b": { "Listen": "127.0.0.1:0", "Protocol": "Pop3", "ClusterId": "c1", "AuthHttp": "ftp://127.0.0.1/auth", "MaxLineLength": 70000,
                   "LoginTimeout": "02:00:00", "Users": [ ] },
            "c": { "Listen": "127.0.0.1:0", "Protocol": "Smtp", "ClusterId": "c1", "Users": [ { "Match": "^x", "ClusterId": "c1" } ],
                   "AuthHttp": "https://auth.example.com/mail", "ServerName": "" }
            """, errors);
        string[] clusters = ["c1"];

        TcpProxyConfigValidator.Validate(config, clusters.Contains, errors);

        string[] expected =
        [
            "TcpProxy:Routes:a:ClusterId: missing",
            "TcpProxy:Routes:a:Match: not for a mail route (Protocol Imap)",
            "TcpProxy:Routes:a:Users: not used with AuthHttp, whose answer decides the backend alone",
            "TcpProxy:Routes:a:Users:0:Match: '^[a-' is not a regular expression: ",
            "TcpProxy:Routes:a:Users:1:Match: missing",
            "TcpProxy:Routes:a:Users:1:ClusterId: missing",
            "TcpProxy:Routes:a:Users:2:ClusterId: cluster 'nowhere' is not defined",
            "TcpProxy:Routes:a:AuthHttp: '/auth' is not an absolute http or https URL",
            "TcpProxy:Routes:a:LoginTimeout: 00:00:00 is out of range; allowed: more than 00:00:00",
            "TcpProxy:Routes:a:FailedLoginDelay: -00:00:01 is out of range; allowed: 00:00:00 to 00:01:00",
            "TcpProxy:Routes:a:MaxLineLength: 100 is out of range; allowed: 512 to 65536",
            "TcpProxy:Routes:a:ServerName: 'mail example' is not a greeting name",
            "TcpProxy:Routes:b:AuthHttp: 'ftp://127.0.0.1/auth' is not an absolute http or https URL",
            "TcpProxy:Routes:b:MaxLineLength: 70000 is out of range",
            "TcpProxy:Routes:b:LoginTimeout: 02:00:00 is out of range",
            "TcpProxy:Routes:b:Users: empty",
            "TcpProxy:Routes:b:Users: not used with AuthHttp",
            "TcpProxy:Routes:c:Users: not used with AuthHttp",
            "TcpProxy:Routes:c:ServerName: '' is not a greeting name",
        ];
        AssertErrors(expected, errors);
    }

    [Fact]
    public void Validate_MailRouteSharingAnEndpoint_EachMailRouteReportedWithoutATie()
    {
        var errors = new List<string>();
        TcpProxyConfig config = Read("""
            "imap":  { "Listen": [ "127.0.0.1:1143", "127.0.0.1:1144" ], "Protocol": "Imap", "ClusterId": "c1" },
            "relay": { "Listen": "127.0.0.1:1143", "ClusterId": "c1" },
            "pop3":  { "Listen": "127.0.0.1:1144", "Protocol": "Pop3", "ClusterId": "c1" },
            "other": { "Listen": "127.0.0.1:1145", "Protocol": "Smtp", "ClusterId": "c1" }
            """, errors);

        TcpProxyConfigValidator.Validate(config, null, errors);

        AssertErrors(
            [
                "TcpProxy:Routes:imap:Listen: 127.0.0.1:1143 is also an endpoint of route 'relay'; allowed: a mail route (Protocol Imap) alone",
                "TcpProxy:Routes:imap:Listen: 127.0.0.1:1144 is also an endpoint of route 'pop3'",
                "TcpProxy:Routes:pop3:Listen: 127.0.0.1:1144 is also an endpoint of route 'imap'; allowed: a mail route (Protocol Pop3) alone",
            ],
            errors);
    }

    [Fact]
    public void Validate_CodeFirstUndefinedProtocolAndNullRule_Reported()
    {
        var errors = new List<string>();
        TcpRouteConfig[] routes =
        [
            new() { RouteId = "r1", Listen = ["127.0.0.1:0"], ClusterId = "c1", Protocol = (TcpRouteProtocol)7 },
            new() { RouteId = "r2", Listen = ["127.0.0.1:0"], ClusterId = "c1", Protocol = TcpRouteProtocol.Smtp, Users = [null!] },
        ];

        TcpProxyConfigValidator.ValidateRoutes([.. routes.Select(r => (r, "Memory"))], null, errors);

        AssertErrors(["Memory:r1:Protocol: 7 is not a route protocol", "Memory:r2:Users:0: a rule is null"], errors);
    }

    [Fact]
    public void Validate_TlsWithoutCertificateOrWithMissingFiles_Reported()
    {
        var errors = new List<string>();
        string missing = Path.Combine(_directory, "missing.pem");
        TcpRouteConfig[] routes =
        [
            Mail("no-path", new TcpMailTlsConfig { KeyPath = "k.pem" }),
            Mail("no-files", new TcpMailTlsConfig { CertificatePath = missing, KeyPath = missing }),
        ];

        TcpProxyConfigValidator.ValidateRoutes([.. routes.Select(r => (r, "Memory"))], null, errors);

        AssertErrors(
            [
                "Memory:no-path:Tls:CertificatePath: missing; allowed: the path of a PEM certificate (with KeyPath) or of a PFX file",
                $"Memory:no-files:Tls:CertificatePath: file '{missing}' not found",
                $"Memory:no-files:Tls:KeyPath: file '{missing}' not found",
            ],
            errors);
    }

    [Fact]
    public void Validate_TlsFilesThatDoNotLoad_ReportedWithTheLoadersMessage()
    {
        var errors = new List<string>();
        (string cert, string key, string pfx) = WriteCertificates("secret");
        string garbage = Path.Combine(_directory, "garbage.pem");
        File.WriteAllText(garbage, "not a certificate");
        TcpRouteConfig[] routes =
        [
            Mail("garbage-pem", new TcpMailTlsConfig { CertificatePath = garbage, KeyPath = key }),
            Mail("cert-as-key", new TcpMailTlsConfig { CertificatePath = cert, KeyPath = cert }),
            Mail("wrong-password", new TcpMailTlsConfig { CertificatePath = pfx, CertificatePassword = "wrong" }),
            Mail("pem-as-pfx", new TcpMailTlsConfig { CertificatePath = cert }),
        ];

        TcpProxyConfigValidator.ValidateRoutes([.. routes.Select(r => (r, "Memory"))], null, errors);

        AssertErrors(
            [
                "Memory:garbage-pem:Tls:CertificatePath: the PEM certificate and key could not be loaded: ",
                "Memory:cert-as-key:Tls:CertificatePath: the PEM certificate and key could not be loaded: ",
                "Memory:wrong-password:Tls:CertificatePath: the PFX could not be loaded: ",
                "Memory:pem-as-pfx:Tls:CertificatePath: the PFX could not be loaded: ",
            ],
            errors);
        Assert.All(errors, e => Assert.DoesNotContain("secret", e, StringComparison.Ordinal));
        Assert.All(errors, e => Assert.Matches(@"loaded: \S.* Allowed: ", e));
    }

    [Fact]
    public void Validate_TlsPemAndPfxThatLoad_Valid()
    {
        var errors = new List<string>();
        (string cert, string key, string pfx) = WriteCertificates("secret");
        TcpRouteConfig[] routes =
        [
            Mail("pem", new TcpMailTlsConfig { CertificatePath = cert, KeyPath = key, Implicit = true }),
            Mail("pfx", new TcpMailTlsConfig { CertificatePath = pfx, CertificatePassword = "secret" }),
        ];

        TcpProxyConfigValidator.ValidateRoutes([.. routes.Select(r => (r, "Memory"))], null, errors);

        Assert.Empty(errors);
        using X509Certificate2 loaded = routes[0].Tls!.LoadCertificate();
        Assert.True(loaded.HasPrivateKey);
        Assert.Equal("CN=mail.example.com", loaded.Subject);
    }

    [Fact]
    public void Validate_TheSamplesMailExample_ValidWithItsClusters()
    {
        var errors = new List<string>();
        IConfiguration configuration = new ConfigurationBuilder()
            .AddJsonFile(Path.Combine(ProxyKestrel.Testing.RepoPaths.Root, "samples", "Gateway", "examples", "mail-routing.json"), optional: false)
            .Build();
        string[] clusters = [.. configuration.GetSection("ReverseProxy:Clusters").GetChildren().Select(c => c.Key)];

        TcpProxyConfig config = TcpProxyConfigReader.Read(configuration.GetSection(TcpProxyConfig.SectionName), errors);
        TcpProxyConfigValidator.Validate(config, clusters.Contains, errors);

        Assert.Empty(errors);
        Assert.Equal([TcpRouteProtocol.Imap, TcpRouteProtocol.Pop3, TcpRouteProtocol.Smtp], config.Routes.Select(r => r.Protocol).Order());
        Assert.Equal(2, config.Routes.Single(r => r.Protocol == TcpRouteProtocol.Imap).Users!.Count);
        Assert.NotNull(config.Routes.Single(r => r.Protocol == TcpRouteProtocol.Pop3).AuthHttp);
    }

    private static TcpRouteConfig Mail(string id, TcpMailTlsConfig tls) =>
        new() { RouteId = id, Listen = ["127.0.0.1:0"], ClusterId = "c1", Protocol = TcpRouteProtocol.Imap, Tls = tls };

    /// <summary>A self-signed certificate as PEM certificate + PEM key, and as a PFX protected by <paramref name="password"/>.</summary>
    private (string Cert, string Key, string Pfx) WriteCertificates(string password)
    {
        using var rsa = RSA.Create(2048);
        var request = new CertificateRequest("CN=mail.example.com", rsa, HashAlgorithmName.SHA256, RSASignaturePadding.Pkcs1);
        using X509Certificate2 certificate = request.CreateSelfSigned(DateTimeOffset.UtcNow.AddDays(-1), DateTimeOffset.UtcNow.AddDays(30));
        string cert = Path.Combine(_directory, "cert.pem");
        string key = Path.Combine(_directory, "key.pem");
        string pfx = Path.Combine(_directory, "cert.pfx");
        File.WriteAllText(cert, certificate.ExportCertificatePem());
        File.WriteAllText(key, rsa.ExportPkcs8PrivateKeyPem());
        File.WriteAllBytes(pfx, certificate.Export(X509ContentType.Pkcs12, password));
        return (cert, key, pfx);
    }

    private static void AssertErrors(string[] expected, List<string> errors)
    {
        foreach (string start in expected)
        {
            Assert.True(errors.Exists(e => e.StartsWith(start, StringComparison.Ordinal)), $"missing '{start}' in:\n{string.Join('\n', errors)}");
        }

        Assert.True(expected.Length == errors.Count, $"expected {expected.Length} errors, got:\n{string.Join('\n', errors)}");
    }

    private static TcpProxyConfig Read(string routes, List<string> errors)
    {
        string json = $$"""{ "TcpProxy": { "Routes": { {{routes}} } } }""";
        using var stream = new MemoryStream(Encoding.UTF8.GetBytes(json));
        IConfigurationSection section = new ConfigurationBuilder().AddJsonStream(stream).Build().GetSection(TcpProxyConfig.SectionName);
        return TcpProxyConfigReader.Read(section, errors);
    }
}
