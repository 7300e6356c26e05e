using ProxyKestrel.Gateway.Tests.Infrastructure;
using ProxyKestrel.Gateway.Tests.RealPeers;

namespace ProxyKestrel.Gateway.Tests.Mail.Front;

/// <summary>The POP3 mail front against two real Dovecot instances: USER/PASS and AUTH PLAIN routed by user, the real client in each log. On every transport.</summary>
public sealed class MailFrontPop3Tests
{
    private const string Client = "127.0.0.2";
    private static readonly TimeSpan s_logTimeout = TimeSpan.FromSeconds(10);

    [Fact]
    public async Task Login_UserPassAndAuthPlain_AliceOnPop1NinaOnPop2EachWithTheRealClient()
    {
        await using DovecotPeer pop1 = await DovecotPeer.StartAsync("front-pop1", [("alice", "alice-pw", null)]);
        await using DovecotPeer pop2 = await DovecotPeer.StartAsync("front-pop2", [("nina", "nina-pw", null)]);
        await using GatewayHost gateway = await GatewayHost.StartAsync(MailFrontConfig.Pop3(FreePort.Next(), pop1, pop2));
        using var measurements = GatewayMeasurements.Start(gateway);
        int port = gateway.EndPointOf("pop3").Port;

        await using (MailTestClient alice = await MailTestClient.ConnectAsync(Client, port))
        {
            Assert.Equal("+OK mail.example.test ready.", await alice.ReadLineAsync());
            Assert.StartsWith("+OK", (await alice.CommandAsync("USER alice", "+"))[^1], StringComparison.Ordinal);
            Assert.Equal("+OK Logged in.", (await alice.CommandAsync("PASS alice-pw", "+"))[^1]);
            await pop1.WaitForLogAsync($"pop3-login: Info: Login: user=<alice>, method=PLAIN, rip={Client}, rport={alice.LocalEndPoint.Port}", s_logTimeout);
            // Relayed: Dovecot's own STAT of an empty mailbox.
            Assert.Equal("+OK 0 0", (await alice.CommandAsync("STAT", "+"))[^1]);
            Assert.StartsWith("+OK", (await alice.CommandAsync("QUIT", "+"))[^1], StringComparison.Ordinal);
            Assert.Null(await alice.ReadLineAsync());
        }

        await using (MailTestClient nina = await MailTestClient.ConnectAsync(Client, port))
        {
            await nina.ReadLineAsync();
            Assert.Equal("+OK Logged in.", (await nina.CommandAsync("AUTH PLAIN AG5pbmEAbmluYS1wdw==", "+"))[^1]);
            await pop2.WaitForLogAsync($"pop3-login: Info: Login: user=<nina>, method=PLAIN, rip={Client}, rport={nina.LocalEndPoint.Port}", s_logTimeout);
            Assert.StartsWith("+OK", (await nina.CommandAsync("QUIT", "+"))[^1], StringComparison.Ordinal);
        }

        Assert.DoesNotContain("nina", pop1.Log, StringComparison.Ordinal);
        Assert.DoesNotContain("alice", pop2.Log, StringComparison.Ordinal);
        await Net.WaitUntilAsync(() => measurements.Results("pop3").Count(r => r == "completed") == 2, "both connections completed");
    }
}
