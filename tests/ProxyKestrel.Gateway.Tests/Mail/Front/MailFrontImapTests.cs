using ProxyKestrel.Gateway.Tests.Infrastructure;
using ProxyKestrel.Gateway.Tests.RealPeers;

namespace ProxyKestrel.Gateway.Tests.Mail.Front;

/// <summary>
/// The IMAP mail front against two real Dovecot instances (users A–M on imap1, N–Z on imap2), clients from
/// 127.0.0.2: the gateway greets, reads the login, picks the instance from the <c>Users</c> rules, sends the PROXY
/// header and replays the login, so each Dovecot logs the real client; then it relays. On every transport.
/// </summary>
public sealed class MailFrontImapTests
{
    private const string Client = "127.0.0.2";
    private static readonly TimeSpan s_logTimeout = TimeSpan.FromSeconds(10);

    [Fact]
    public async Task Login_UsersRules_AliceOnImap1NinaOnImap2EachWithTheRealClient()
    {
        await using DovecotPeer imap1 = await DovecotPeer.StartAsync("front-imap1", [("alice", "alice-pw", null)]);
        await using DovecotPeer imap2 = await DovecotPeer.StartAsync("front-imap2", [("nina", "nina-pw", null)]);
        await using GatewayHost gateway = await GatewayHost.StartAsync(MailFrontConfig.Imap(FreePort.Next(), imap1, imap2));
        using var measurements = GatewayMeasurements.Start(gateway);
        int port = gateway.EndPointOf("imap").Port;

        await using (MailTestClient alice = await MailTestClient.ConnectAsync(Client, port))
        {
            Assert.StartsWith("* OK [CAPABILITY ", await alice.ReadLineAsync(), StringComparison.Ordinal);
            Assert.StartsWith("a1 OK ", (await alice.CommandAsync("a1 LOGIN alice alice-pw", "a1 "))[^1], StringComparison.Ordinal);
            await imap1.WaitForLogAsync($"Login: user=<alice>, method=PLAIN, rip={Client}, rport={alice.LocalEndPoint.Port}", s_logTimeout);
            // Relayed from here: the backend's own session answers.
            Assert.StartsWith("a2 OK ", (await alice.CommandAsync("a2 SELECT INBOX", "a2 "))[^1], StringComparison.Ordinal);
            Assert.StartsWith("a3 OK ", (await alice.CommandAsync("a3 LOGOUT", "a3 "))[^1], StringComparison.Ordinal);
            Assert.Null(await alice.ReadLineAsync());
        }

        await using (MailTestClient nina = await MailTestClient.ConnectAsync(Client, port))
        {
            await nina.ReadLineAsync();
            // AUTHENTICATE PLAIN with SASL-IR: "\0nina\0nina-pw".
            Assert.StartsWith("b1 OK ", (await nina.CommandAsync("b1 AUTHENTICATE PLAIN AG5pbmEAbmluYS1wdw==", "b1 "))[^1], StringComparison.Ordinal);
            await imap2.WaitForLogAsync($"Login: user=<nina>, method=PLAIN, rip={Client}, rport={nina.LocalEndPoint.Port}", s_logTimeout);
            Assert.StartsWith("b2 OK ", (await nina.CommandAsync("b2 LOGOUT", "b2 "))[^1], StringComparison.Ordinal);
        }

        Assert.DoesNotContain("nina", imap1.Log, StringComparison.Ordinal);
        Assert.DoesNotContain("alice", imap2.Log, StringComparison.Ordinal);
        await Net.WaitUntilAsync(() => measurements.Results("imap").Count(r => r == "completed") == 2, "both connections completed");
    }

    [Fact]
    public async Task Login_WrongPasswordThenRight_BackendsRefusalPassedOnAndTheRetrySucceeds()
    {
        await using DovecotPeer imap1 = await DovecotPeer.StartAsync("front-retry1", [("alice", "alice-pw", null)]);
        await using DovecotPeer imap2 = await DovecotPeer.StartAsync("front-retry2", [("nina", "nina-pw", null)]);
        await using GatewayHost gateway = await GatewayHost.StartAsync(MailFrontConfig.Imap(FreePort.Next(), imap1, imap2, failedLoginDelay: "00:00:00"));
        await using MailTestClient client = await MailTestClient.ConnectAsync(Client, gateway.EndPointOf("imap").Port);
        await client.ReadLineAsync();

        string refused = (await client.CommandAsync("a1 LOGIN alice wrong", "a1 "))[^1];

        // Dovecot's own answer, as it said it.
        Assert.StartsWith("a1 NO [AUTHENTICATIONFAILED]", refused, StringComparison.Ordinal);
        Assert.StartsWith("a2 OK ", (await client.CommandAsync("a2 LOGIN alice alice-pw", "a2 "))[^1], StringComparison.Ordinal);
        await imap1.WaitForLogAsync($"Login: user=<alice>, method=PLAIN, rip={Client}", s_logTimeout);
    }

    [Fact]
    public async Task Login_BackendDown_TemporaryFailureAndTheGatewayKeepsTheClient()
    {
        await using DovecotPeer imap1 = await DovecotPeer.StartAsync("front-down1", [("alice", "alice-pw", null)]);
        int closedPort = FreePort.Next();
        await using GatewayHost gateway = await GatewayHost.StartAsync(MailFrontConfig.Imap(FreePort.Next(), imap1, imap2Port: closedPort, failedLoginDelay: "00:00:00"));
        await using MailTestClient client = await MailTestClient.ConnectAsync(Client, gateway.EndPointOf("imap").Port);
        await client.ReadLineAsync();

        string answer = (await client.CommandAsync("a1 LOGIN nina nina-pw", "a1 "))[^1];

        Assert.Equal("a1 NO [UNAVAILABLE] Temporary failure, try again later", answer);
        Assert.Equal("a2 OK NOOP completed", (await client.CommandAsync("a2 NOOP", "a2 "))[^1]);
    }

    [Fact]
    public async Task Login_ThreeRefusals_ClosedAndCountedLoginFailed()
    {
        await using DovecotPeer imap1 = await DovecotPeer.StartAsync("front-three1", [("alice", "alice-pw", null)]);
        await using GatewayHost gateway = await GatewayHost.StartAsync(MailFrontConfig.Imap(FreePort.Next(), imap1, imap2Port: FreePort.Next(), failedLoginDelay: "00:00:00"));
        using var measurements = GatewayMeasurements.Start(gateway);
        await using MailTestClient client = await MailTestClient.ConnectAsync(Client, gateway.EndPointOf("imap").Port);
        await client.ReadLineAsync();

        for (int i = 1; i <= 3; i++)
        {
            Assert.StartsWith($"a{i} NO [AUTHENTICATIONFAILED]", (await client.CommandAsync($"a{i} LOGIN alice wrong{i}", $"a{i} "))[^1], StringComparison.Ordinal);
        }

        Assert.Null(await client.ReadLineAsync());
        await Net.WaitUntilAsync(() => measurements.Results("imap").Contains("login_failed"), "counted login_failed");
    }

    [Fact]
    public async Task Login_PlaintextWithoutTlsNotAllowed_RefusedBeforeAnyBackend()
    {
        await using DovecotPeer imap1 = await DovecotPeer.StartAsync("front-plain1", [("alice", "alice-pw", null)]);
        using var tls = MailFrontCertificate.Create();
        await using GatewayHost gateway = await GatewayHost.StartAsync(MailFrontConfig.Imap(FreePort.Next(), imap1, imap2Port: FreePort.Next(), allowPlaintext: false, tls: tls));
        await using MailTestClient client = await MailTestClient.ConnectAsync(Client, gateway.EndPointOf("imap").Port);
        string greeting = (await client.ReadLineAsync())!;

        string refused = (await client.CommandAsync("a1 LOGIN alice alice-pw", "a1 "))[^1];

        Assert.Contains("STARTTLS", greeting, StringComparison.Ordinal);
        Assert.Contains("LOGINDISABLED", greeting, StringComparison.Ordinal);
        Assert.StartsWith("a1 NO [PRIVACYREQUIRED]", refused, StringComparison.Ordinal);
        Assert.DoesNotContain("Login:", imap1.Log, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Login_AfterStartTls_LoggedInOnTheBackendWithTheRealClient()
    {
        await using DovecotPeer imap1 = await DovecotPeer.StartAsync("front-starttls1", [("alice", "alice-pw", null)]);
        using var tls = MailFrontCertificate.Create();
        await using GatewayHost gateway = await GatewayHost.StartAsync(MailFrontConfig.Imap(FreePort.Next(), imap1, imap2Port: FreePort.Next(), allowPlaintext: false, tls: tls));
        await using MailTestClient client = await MailTestClient.ConnectAsync(Client, gateway.EndPointOf("imap").Port);
        await client.ReadLineAsync();

        Assert.StartsWith("a1 OK ", (await client.CommandAsync("a1 STARTTLS", "a1 "))[^1], StringComparison.Ordinal);
        await client.StartTlsAsync();
        List<string> capability = await client.CommandAsync("a2 CAPABILITY", "a2 ");
        Assert.StartsWith("a3 OK ", (await client.CommandAsync("a3 LOGIN alice alice-pw", "a3 "))[^1], StringComparison.Ordinal);

        Assert.DoesNotContain("STARTTLS", capability[0], StringComparison.Ordinal);
        await imap1.WaitForLogAsync($"Login: user=<alice>, method=PLAIN, rip={Client}", s_logTimeout);
        Assert.StartsWith("a4 OK ", (await client.CommandAsync("a4 SELECT INBOX", "a4 "))[^1], StringComparison.Ordinal);
    }

    [Fact]
    public async Task Login_ImplicitTls_GreetedAfterTheHandshakeAndRelayedEncrypted()
    {
        await using DovecotPeer imap1 = await DovecotPeer.StartAsync("front-imaps1", [("alice", "alice-pw", null)]);
        using var tls = MailFrontCertificate.Create();
        await using GatewayHost gateway = await GatewayHost.StartAsync(MailFrontConfig.Imap(FreePort.Next(), imap1, imap2Port: FreePort.Next(), allowPlaintext: false, tls: tls, implicitTls: true));
        await using MailTestClient client = await MailTestClient.ConnectAsync(Client, gateway.EndPointOf("imap").Port);

        await client.StartTlsAsync();

        Assert.StartsWith("* OK [CAPABILITY ", await client.ReadLineAsync(), StringComparison.Ordinal);
        Assert.StartsWith("a1 OK ", (await client.CommandAsync("a1 LOGIN alice alice-pw", "a1 "))[^1], StringComparison.Ordinal);
        await imap1.WaitForLogAsync($"Login: user=<alice>, method=PLAIN, rip={Client}", s_logTimeout);
        Assert.StartsWith("a2 OK ", (await client.CommandAsync("a2 LOGOUT", "a2 "))[^1], StringComparison.Ordinal);
    }

    [Fact]
    public async Task Login_BehindAnUpstreamProxy_TheHeadersClientReachesTheBackend()
    {
        await using DovecotPeer imap1 = await DovecotPeer.StartAsync("front-upstream1", [("alice", "alice-pw", null)]);
        string json = MailFrontConfig.Imap(FreePort.Next(), imap1, imap2Port: FreePort.Next()).Replace(
            "\"Protocol\": \"Imap\",", "\"Protocol\": \"Imap\", \"AcceptProxyProtocol\": { \"TrustedNetworks\": [ \"127.0.0.2/32\" ] },", StringComparison.Ordinal);
        await using GatewayHost gateway = await GatewayHost.StartAsync(json);
        await using MailTestClient client = await MailTestClient.ConnectAsync(Client, gateway.EndPointOf("imap").Port);
        var header = new byte[64];
        int length = ProxyV2HeaderWriter.Proxy(header, System.Net.IPAddress.Parse("127.0.0.9"), 4242, System.Net.IPAddress.Loopback, 143).Complete();

        // The header and the first command in one write: the mail front starts after the header, with the command.
        await client.SendAsync(System.Text.Encoding.Latin1.GetString(header, 0, length) + "a1 LOGIN alice alice-pw\r\n");

        Assert.StartsWith("* OK ", await client.ReadLineAsync(), StringComparison.Ordinal);
        Assert.StartsWith("a1 OK ", (await client.ReadUntilAsync("a1 "))[^1], StringComparison.Ordinal);
        await imap1.WaitForLogAsync("Login: user=<alice>, method=PLAIN, rip=127.0.0.9, rport=4242", s_logTimeout);
    }
}
