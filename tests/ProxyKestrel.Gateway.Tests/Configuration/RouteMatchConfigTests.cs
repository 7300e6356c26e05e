using System.Text;
using Microsoft.Extensions.Configuration;
using ProxyKestrel.Gateway.Configuration;
using ProxyKestrel.Gateway.Tests.Infrastructure.Transports;

namespace ProxyKestrel.Gateway.Tests.Configuration;

/// <summary>
/// Several routes on one listener, chosen by <c>Match</c>: reading the keys, and the start-up check that lists every
/// error (bad values, routes that disagree on the listener's settings, ties between routes).
/// </summary>
[NotPerTransport("reads and checks configuration; no gateway")]
public class RouteMatchConfigTests
{
    [Fact]
    public void Read_EveryMatchKey_Read()
    {
        var errors = new List<string>();

        TcpProxyConfig config = Read("""
            "tls-a": { "Listen": "0.0.0.0:8443", "ClusterId": "a", "InspectTimeout": "00:00:03", "MaxInspectBytes": 4096,
                       "Match": { "Sni": [ "a.example.com", "*.a.example.com" ], "Alpn": "h2", "Protocol": [ "tls" ], "SourceNetworks": [ "10.0.0.0/8" ] } },
            "web-a": { "Listen": "0.0.0.0:8080", "ClusterId": "a-http", "Match": { "Host": [ "a.example.com" ] } }
            """, errors);

        Assert.Empty(errors);
        TcpRouteConfig tls = config.Routes.Single(r => r.RouteId == "tls-a");
        Assert.Equal(["a.example.com", "*.a.example.com"], tls.Match!.Sni);
        Assert.Equal(["h2"], tls.Match.Alpn);
        Assert.Equal([TcpClientProtocol.Tls], tls.Match.Protocol);
        Assert.Equal(["10.0.0.0/8"], tls.Match.SourceNetworks);
        Assert.Equal(TimeSpan.FromSeconds(3), tls.InspectTimeout);
        Assert.Equal(4096, tls.MaxInspectBytes);
        Assert.Equal(["a.example.com"], config.Routes.Single(r => r.RouteId == "web-a").Match!.Host);
    }

    [Fact]
    public void Read_UnknownMatchKeyAndProtocol_EachReportedWithItsPath()
    {
        var errors = new List<string>();

        Read("""
            "r1": { "Listen": "127.0.0.1:0", "ClusterId": "c1", "MaxInspectBytes": "lots", "Match": { "Sni": "a.example.com", "Port": 443, "Protocol": [ "Tls", "Smtp" ] } }
            """, errors);

        Assert.Equal(3, errors.Count);
        Assert.Contains(errors, e => e.StartsWith("TcpProxy:Routes:r1:Match:Port: unknown key; allowed keys: Sni, Alpn, Host, Protocol, SourceNetworks.", StringComparison.Ordinal));
        Assert.Contains(errors, e => e.StartsWith("TcpProxy:Routes:r1:Match:Protocol:1: 'Smtp' is not a protocol; allowed: Tls, Http, Ssh, Other.", StringComparison.Ordinal));
        Assert.Contains(errors, e => e.StartsWith("TcpProxy:Routes:r1:MaxInspectBytes: 'lots' is not a whole number", StringComparison.Ordinal));
    }

    [Fact]
    public void Validate_TheIssuesExample_Valid()
    {
        var errors = new List<string>();
        TcpProxyConfig config = Read("""
            "tls-a":   { "Listen": "0.0.0.0:8443", "Match": { "Sni": [ "a.example.com", "*.a.example.com" ] }, "ClusterId": "a" },
            "tls-b":   { "Listen": "0.0.0.0:8443", "Match": { "Sni": [ "b.example.com" ], "Alpn": [ "h2" ] }, "ClusterId": "b" },
            "tls-any": { "Listen": "0.0.0.0:8443", "ClusterId": "fallback" },
            "web-a":   { "Listen": "0.0.0.0:8080", "Match": { "Host": [ "a.example.com" ] }, "ClusterId": "a-http" },
            "ssh":     { "Listen": "0.0.0.0:8022", "Match": { "Protocol": [ "Ssh" ] }, "ClusterId": "bastion" }
            """, errors);

        TcpProxyConfigValidator.Validate(config, null, errors);

        Assert.Empty(errors);
    }

    [Fact]
    public void Validate_TheSamplesCommentedExample_ValidWithItsClusters()
    {
        var errors = new List<string>();
        IConfiguration configuration = new ConfigurationBuilder()
            .AddJsonFile(Path.Combine(ProxyKestrel.Testing.RepoPaths.Root, "samples", "Gateway", "examples", "match-routing.json"), optional: false)
            .Build();
        string[] clusters = [.. configuration.GetSection("ReverseProxy:Clusters").GetChildren().Select(c => c.Key)];

        TcpProxyConfig config = TcpProxyConfigReader.Read(configuration.GetSection(TcpProxyConfig.SectionName), errors);
        TcpProxyConfigValidator.Validate(config, clusters.Contains, errors);

        Assert.Empty(errors);
        Assert.Equal(5, config.Routes.Count);
        Assert.Equal(3, config.Routes.Count(r => r.Listen.SequenceEqual(["127.0.0.1:8443"])));
    }

    [Fact]
    public void Validate_BadMatchValues_EveryErrorListedWithItsKey()
    {
        var errors = new List<string>();
        TcpProxyConfig config = Read("""
            "r1": { "Listen": "127.0.0.1:0", "ClusterId": "c1", "InspectTimeout": "00:00:00", "MaxInspectBytes": 200000,
                    "Match": { "Sni": [ "bad name", "*" , "-x.example.com" ], "Alpn": [ "" ], "Host": [ "a.example.com:80" ], "SourceNetworks": [ "10.0.0.1/8" ] } },
            "r3": { "Listen": "127.0.0.1:0", "ClusterId": "c1", "Match": { "Host": [ "a.example.com" ], "Protocol": [ "Tls" ] } }
            """, errors);

        TcpProxyConfigValidator.Validate(config, null, errors);

        string[] expected =
        [
            "TcpProxy:Routes:r1:InspectTimeout: 00:00:00 is out of range",
            "TcpProxy:Routes:r1:MaxInspectBytes: 200000 is out of range; allowed: 1 to 131072",
            "TcpProxy:Routes:r1:Match:Sni:0: 'bad name' is not a name",
            "TcpProxy:Routes:r1:Match:Sni:1: '*' is not a name",
            "TcpProxy:Routes:r1:Match:Sni:2: '-x.example.com' is not a name",
            "TcpProxy:Routes:r1:Match:Alpn:0: '' is not a protocol id",
            "TcpProxy:Routes:r1:Match:Host:0: 'a.example.com:80' is not a name",
            "TcpProxy:Routes:r1:Match: Host (HTTP) and Sni or Alpn (TLS) cannot both match one connection",
            "TcpProxy:Routes:r1:Match:SourceNetworks:0: '10.0.0.1/8' is not a network",
            "TcpProxy:Routes:r3:Match:Protocol: Host is read from an HTTP request, which Protocol does not allow here",
        ];
        foreach (string start in expected)
        {
            Assert.True(errors.Exists(e => e.StartsWith(start, StringComparison.Ordinal)), $"missing '{start}' in:\n{string.Join('\n', errors)}");
        }

        Assert.Equal(expected.Length, errors.Count);
    }

    [Fact]
    public void Validate_CodeFirstEmptyListOrEmptyMatch_Reported()
    {
        var errors = new List<string>();
        TcpRouteConfig[] routes =
        [
            new() { RouteId = "r2", Listen = ["127.0.0.1:0"], ClusterId = "c1", Match = new TcpRouteMatch { Sni = [], Protocol = [(TcpClientProtocol)9, TcpClientProtocol.Tls] } },
            new() { RouteId = "r4", Listen = ["127.0.0.1:0"], ClusterId = "c1", Match = new TcpRouteMatch() },
        ];

        TcpProxyConfigValidator.ValidateRoutes([.. routes.Select(r => (r, "Memory"))], null, errors);

        Assert.Equal(3, errors.Count);
        Assert.Contains(errors, e => e.StartsWith("Memory:r2:Match:Sni: empty; allowed: one or more of server names", StringComparison.Ordinal));
        Assert.Contains(errors, e => e.StartsWith("Memory:r2:Match:Protocol:0: 9 is not a protocol", StringComparison.Ordinal));
        Assert.Contains(errors, e => e.StartsWith("Memory:r4:Match: no key set", StringComparison.Ordinal));
    }

    [Fact]
    public void Validate_SharedListenerWithTies_EachTieNamesBothRoutes()
    {
        var errors = new List<string>();
        TcpProxyConfig config = Read("""
            "default-1": { "Listen": "127.0.0.1:8443", "ClusterId": "c1" },
            "default-2": { "Listen": "127.0.0.1:8443", "ClusterId": "c1" },
            "exact-1":   { "Listen": "127.0.0.1:8443", "ClusterId": "c1", "Match": { "Sni": [ "a.example.com", "b.example.com" ] } },
            "exact-2":   { "Listen": "127.0.0.1:8443", "ClusterId": "c1", "Match": { "Sni": [ "B.example.com" ] } },
            "wild-1":    { "Listen": "127.0.0.1:8443", "ClusterId": "c1", "Match": { "Sni": [ "*.example.com" ], "Alpn": [ "h2" ] } },
            "wild-2":    { "Listen": "127.0.0.1:8443", "ClusterId": "c1", "Match": { "Sni": [ "*.example.com" ], "SourceNetworks": [ "127.0.0.0/8" ] } },
            "src-1":     { "Listen": "127.0.0.1:8443", "ClusterId": "c1", "Match": { "SourceNetworks": [ "10.0.0.0/8" ] } },
            "src-2":     { "Listen": "127.0.0.1:8443", "ClusterId": "c1", "Match": { "SourceNetworks": [ "10.1.0.0/16" ] } }
            """, errors);

        TcpProxyConfigValidator.Validate(config, null, errors);

        Assert.Equal(4, errors.Count);
        Assert.Contains(errors, e => e.StartsWith("TcpProxy:Routes:default-2:Match: a connection to 127.0.0.1:8443 could match route 'default-1' and this route equally well", StringComparison.Ordinal));
        Assert.Contains(errors, e => e.StartsWith("TcpProxy:Routes:exact-2:Match: a connection to 127.0.0.1:8443 could match route 'exact-1'", StringComparison.Ordinal));
        Assert.Contains(errors, e => e.StartsWith("TcpProxy:Routes:wild-2:Match: a connection to 127.0.0.1:8443 could match route 'wild-1'", StringComparison.Ordinal));
        Assert.Contains(errors, e => e.StartsWith("TcpProxy:Routes:src-2:Match: a connection to 127.0.0.1:8443 could match route 'src-1'", StringComparison.Ordinal));
    }

    [Fact]
    public void Validate_SharedListenerWithoutTies_Valid()
    {
        var errors = new List<string>();
        TcpProxyConfig config = Read("""
            "exact":    { "Listen": "127.0.0.1:8443", "ClusterId": "c1", "Match": { "Sni": [ "a.example.com" ] } },
            "wild":     { "Listen": "127.0.0.1:8443", "ClusterId": "c1", "Match": { "Sni": [ "*.example.com" ] } },
            "longer":   { "Listen": "127.0.0.1:8443", "ClusterId": "c1", "Match": { "Sni": [ "*.a.example.com" ] } },
            "with-h2":  { "Listen": "127.0.0.1:8443", "ClusterId": "c1", "Match": { "Sni": [ "a.example.com" ], "Alpn": [ "h2" ] } },
            "src-a":    { "Listen": "127.0.0.1:8443", "ClusterId": "c1", "Match": { "SourceNetworks": [ "10.0.0.0/16" ] } },
            "src-b":    { "Listen": "127.0.0.1:8443", "ClusterId": "c1", "Match": { "SourceNetworks": [ "10.1.0.0/16" ] } },
            "default":  { "Listen": "127.0.0.1:8443", "ClusterId": "c1" },
            "elsewhere": { "Listen": "127.0.0.1:8444", "ClusterId": "c1" }
            """, errors);

        TcpProxyConfigValidator.Validate(config, null, errors);

        Assert.Empty(errors);
    }

    [Fact]
    public void Validate_SharedListenerWhoseRoutesDisagree_EachSettingReported()
    {
        var errors = new List<string>();
        TcpProxyConfig config = Read("""
            "a": { "Listen": "127.0.0.1:8443", "ClusterId": "c1", "InspectTimeout": "00:00:02", "Match": { "Sni": [ "a.example.com" ] },
                   "AcceptProxyProtocol": { "TrustedNetworks": [ "10.0.0.0/8" ] } },
            "b": { "Listen": "127.0.0.1:8443", "ClusterId": "c1", "InspectTimeout": "00:00:03", "MaxInspectBytes": 1024, "Match": { "Sni": [ "b.example.com" ] } },
            "c": { "Listen": "127.0.0.1:8443", "ClusterId": "c1", "InspectTimeout": "00:00:02", "MaxInspectBytes": 1024,
                   "AcceptProxyProtocol": { "TrustedNetworks": [ "10.0.0.0/8" ] } }
            """, errors);

        TcpProxyConfigValidator.Validate(config, null, errors);

        Assert.Equal(2, errors.Count);
        Assert.Contains(errors, e => e.StartsWith("TcpProxy:Routes:b:AcceptProxyProtocol: differs from route 'a', which also listens on 127.0.0.1:8443", StringComparison.Ordinal));
        Assert.Contains(errors, e => e.StartsWith("TcpProxy:Routes:b:InspectTimeout: 00:00:03 differs from route 'a' (00:00:02)", StringComparison.Ordinal));
    }

    private static TcpProxyConfig Read(string routes, List<string> errors)
    {
        string json = $$"""{ "TcpProxy": { "Routes": { {{routes}} } } }""";
        using var stream = new MemoryStream(Encoding.UTF8.GetBytes(json));
        IConfigurationSection section = new ConfigurationBuilder().AddJsonStream(stream).Build().GetSection(TcpProxyConfig.SectionName);
        return TcpProxyConfigReader.Read(section, errors);
    }
}
