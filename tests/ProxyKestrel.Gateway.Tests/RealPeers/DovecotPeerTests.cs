using System.Net;
using ProxyKestrel.Gateway.Tests.Infrastructure.Transports;

namespace ProxyKestrel.Gateway.Tests.RealPeers;

/// <summary>
/// The Dovecot test peer on its own: clients bound to 127.0.0.N send a PROXY header themselves (the codec's writers)
/// to the <c>haproxy = yes</c> listeners, and Dovecot's login log and <c>allow_nets</c> show the address it decoded.
/// </summary>
[NotPerTransport("talks to Dovecot directly; no gateway")]
public sealed class DovecotPeerTests
{
    private const string Client = "127.0.0.2";
    private static readonly TimeSpan s_logTimeout = TimeSpan.FromSeconds(10);

    [Theory]
    [InlineData(1)]
    [InlineData(2)]
    public async Task ImapLogin_ProxyHeader_LogsUserWithTheHeaderClient(int version)
    {
        await using DovecotPeer dovecot = await DovecotPeer.StartAsync($"imap-v{version}", [("alice", "secret", null)], trustedNetworks: "127.0.0.2/32");
        await using RawClient client = await RawClient.ConnectAsync(Client, dovecot.ImapPort);

        await client.SendAsync(version == 1 ? V1Header(Client, client.LocalPort, dovecot.ImapPort) : V2Header(Client, client.LocalPort, dovecot.ImapPort));

        Assert.StartsWith("* OK ", await client.ReadLineAsync(), StringComparison.Ordinal);
        Assert.StartsWith("a OK ", await ImapLoginAsync(client, "alice", "secret"), StringComparison.Ordinal);
        await dovecot.WaitForLogAsync(
            $"imap-login: Info: Login: user=<alice>, method=PLAIN, rip=127.0.0.2, rport={client.LocalPort}, lip=127.0.0.1, lport={dovecot.ImapPort},",
            s_logTimeout);
    }

    [Fact]
    public async Task Pop3UserPass_V1Header_LogsUserWithTheHeaderClient()
    {
        await using DovecotPeer dovecot = await DovecotPeer.StartAsync("pop3-v1", [("alice", "secret", null)], trustedNetworks: "127.0.0.2/32");
        await using RawClient client = await RawClient.ConnectAsync(Client, dovecot.Pop3Port);

        await client.SendAsync(V1Header(Client, client.LocalPort, dovecot.Pop3Port));

        Assert.StartsWith("+OK ", await client.ReadLineAsync(), StringComparison.Ordinal);
        await client.SendAsync("USER alice\r\n");
        Assert.StartsWith("+OK", await client.ReadLineAsync(), StringComparison.Ordinal);
        await client.SendAsync("PASS secret\r\n");
        Assert.Equal("+OK Logged in.", await client.ReadLineAsync());
        await dovecot.WaitForLogAsync(
            $"pop3-login: Info: Login: user=<alice>, method=PLAIN, rip=127.0.0.2, rport={client.LocalPort}, lip=127.0.0.1, lport={dovecot.Pop3Port},",
            s_logTimeout);
    }

    [Fact]
    public async Task ImapLogin_HeaderNamesAnotherClient_LogsTheHeaderAddressNotTheSocket()
    {
        await using DovecotPeer dovecot = await DovecotPeer.StartAsync("imap-other", [("alice", "secret", null)], trustedNetworks: "127.0.0.2/32");
        await using RawClient client = await RawClient.ConnectAsync(Client, dovecot.ImapPort);

        await client.SendAsync(V2Header("127.0.0.4", 4242, dovecot.ImapPort));

        Assert.StartsWith("* OK ", await client.ReadLineAsync(), StringComparison.Ordinal);
        Assert.StartsWith("a OK ", await ImapLoginAsync(client, "alice", "secret"), StringComparison.Ordinal);
        await dovecot.WaitForLogAsync($"Login: user=<alice>, method=PLAIN, rip=127.0.0.4, rport=4242, lip=127.0.0.1, lport={dovecot.ImapPort},", s_logTimeout);
        Assert.DoesNotContain("rip=127.0.0.2", dovecot.Log, StringComparison.Ordinal);
    }

    [Fact]
    public async Task ImapLogin_AllowNetsUserWithHeaderFromAnotherNetwork_IsRefused()
    {
        await using DovecotPeer dovecot = await DovecotPeer.StartAsync(
            "imap-allow-nets", [("alice", "secret", "127.0.0.2/32")], trustedNetworks: "127.0.0.2/32");

        await using (RawClient refused = await RawClient.ConnectAsync(Client, dovecot.ImapPort))
        {
            await refused.SendAsync(V1Header("127.0.0.3", refused.LocalPort, dovecot.ImapPort));
            Assert.StartsWith("* OK ", await refused.ReadLineAsync(), StringComparison.Ordinal);
            Assert.StartsWith("a NO ", await ImapLoginAsync(refused, "alice", "secret"), StringComparison.Ordinal);
        }

        await dovecot.WaitForLogAsync("passwd-file(alice,127.0.0.3,", s_logTimeout);
        string check = await dovecot.WaitForLogAsync("allow_nets check failed", s_logTimeout);
        Assert.Contains("127.0.0.3", check, StringComparison.Ordinal);

        // The same socket address with a header naming 127.0.0.2: the password was right, only the header decided.
        await using RawClient allowed = await RawClient.ConnectAsync(Client, dovecot.ImapPort);
        await allowed.SendAsync(V1Header(Client, allowed.LocalPort, dovecot.ImapPort));
        Assert.StartsWith("* OK ", await allowed.ReadLineAsync(), StringComparison.Ordinal);
        Assert.StartsWith("a OK ", await ImapLoginAsync(allowed, "alice", "secret"), StringComparison.Ordinal);
        await dovecot.WaitForLogAsync("Login: user=<alice>, method=PLAIN, rip=127.0.0.2,", s_logTimeout);
    }

    [Fact]
    public async Task ImapLogin_TwoInstancesSideBySide_EachAcceptsOnlyItsOwnUser()
    {
        await using DovecotPeer first = await DovecotPeer.StartAsync("side-a", [("alice", "secret", null)], trustedNetworks: "127.0.0.2/32");
        await using DovecotPeer second = await DovecotPeer.StartAsync("side-b", [("nina", "hunter2", null)], trustedNetworks: "127.0.0.2/32");
        Assert.NotEqual(first.ImapPort, second.ImapPort);

        Assert.StartsWith("a OK ", await LoginWithV1HeaderAsync(first, "alice", "secret"), StringComparison.Ordinal);
        Assert.StartsWith("a NO ", await LoginWithV1HeaderAsync(first, "nina", "hunter2"), StringComparison.Ordinal);
        Assert.StartsWith("a OK ", await LoginWithV1HeaderAsync(second, "nina", "hunter2"), StringComparison.Ordinal);
        Assert.StartsWith("a NO ", await LoginWithV1HeaderAsync(second, "alice", "secret"), StringComparison.Ordinal);

        await first.WaitForLogAsync("Login: user=<alice>, method=PLAIN, rip=127.0.0.2,", s_logTimeout);
        await second.WaitForLogAsync("Login: user=<nina>, method=PLAIN, rip=127.0.0.2,", s_logTimeout);
        await first.WaitForLogAsync("passwd-file(nina,127.0.0.2,", s_logTimeout);
        await second.WaitForLogAsync("passwd-file(alice,127.0.0.2,", s_logTimeout);
        Assert.DoesNotContain("Login: user=<nina>", first.Log, StringComparison.Ordinal);
        Assert.DoesNotContain("Login: user=<alice>", second.Log, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Connect_FromOutsideTheTrustedNetworks_IsDroppedAsNotTrusted()
    {
        // The default trusts only 127.0.0.1 (where a gateway would connect from); this client comes from 127.0.0.2.
        await using DovecotPeer dovecot = await DovecotPeer.StartAsync("untrusted", [("alice", "secret", null)]);
        await using RawClient client = await RawClient.ConnectAsync(Client, dovecot.ImapPort);

        await client.SendAsync(V1Header(Client, client.LocalPort, dovecot.ImapPort));

        Assert.Null(await ReadLineOrClosedAsync(client));
        await dovecot.WaitForLogAsync("haproxy: Client not trusted (rip=127.0.0.2)", s_logTimeout);
    }

    [Fact]
    public async Task ImapLogin_PlainListenerWithoutHeader_LogsTheSocketClient()
    {
        await using DovecotPeer dovecot = await DovecotPeer.StartAsync("plain", [("alice", "secret", null)], plainListeners: true);
        Assert.NotNull(dovecot.ImapPlainPort);
        Assert.NotNull(dovecot.Pop3PlainPort);
        int imapPlain = dovecot.ImapPlainPort.Value;
        await using RawClient client = await RawClient.ConnectAsync("127.0.0.5", imapPlain);

        Assert.StartsWith("* OK ", await client.ReadLineAsync(), StringComparison.Ordinal);
        Assert.StartsWith("a OK ", await ImapLoginAsync(client, "alice", "secret"), StringComparison.Ordinal);
        await dovecot.WaitForLogAsync($"Login: user=<alice>, method=PLAIN, rip=127.0.0.5, rport={client.LocalPort}, lip=127.0.0.1, lport={imapPlain},", s_logTimeout);

        await using RawClient pop3 = await RawClient.ConnectAsync("127.0.0.5", dovecot.Pop3PlainPort.Value);
        Assert.StartsWith("+OK ", await pop3.ReadLineAsync(), StringComparison.Ordinal);
    }

    private static byte[] V1Header(string source, int sourcePort, int destinationPort)
    {
        var buffer = new byte[ProxyHeaderWriter.V1MaxLength];
        int length = ProxyHeaderWriter.WriteV1(buffer, new IPEndPoint(IPAddress.Parse(source), sourcePort), new IPEndPoint(IPAddress.Loopback, destinationPort));
        return buffer[..length];
    }

    private static byte[] V2Header(string source, int sourcePort, int destinationPort)
    {
        var buffer = new byte[64];
        var writer = ProxyV2HeaderWriter.Proxy(buffer, IPAddress.Parse(source), sourcePort, IPAddress.Loopback, destinationPort);
        int length = writer.Complete();
        return buffer[..length];
    }

    /// <summary>Sends <c>a LOGIN user password</c> and returns the tagged answer (untagged lines skipped).</summary>
    private static async Task<string> ImapLoginAsync(RawClient client, string user, string password)
    {
        await client.SendAsync($"a LOGIN {user} {password}\r\n");
        while (true)
        {
            string? line = await client.ReadLineAsync();
            Assert.NotNull(line);
            if (line.StartsWith("a ", StringComparison.Ordinal))
            {
                return line;
            }
        }
    }

    private static async Task<string> LoginWithV1HeaderAsync(DovecotPeer dovecot, string user, string password)
    {
        await using RawClient client = await RawClient.ConnectAsync(Client, dovecot.ImapPort);
        await client.SendAsync(V1Header(Client, client.LocalPort, dovecot.ImapPort));
        Assert.StartsWith("* OK ", await client.ReadLineAsync(), StringComparison.Ordinal);
        return await ImapLoginAsync(client, user, password);
    }

    /// <summary>The next line, or null when the peer closed (or reset) the connection.</summary>
    private static async Task<string?> ReadLineOrClosedAsync(RawClient client)
    {
        try
        {
            return await client.ReadLineAsync();
        }
        catch (IOException)
        {
            return null;
        }
    }
}
