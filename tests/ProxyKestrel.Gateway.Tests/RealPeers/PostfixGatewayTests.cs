using System.Text.RegularExpressions;

namespace ProxyKestrel.Gateway.Tests.RealPeers;

/// <summary>One throwaway Postfix instance shared by the Postfix tests (each test uses its own client address).</summary>
public sealed class PostfixFixture : IAsyncLifetime
{
    internal PostfixPeer Postfix { get; private set; } = null!;

    public async Task InitializeAsync() => Postfix = await PostfixPeer.StartAsync();

    public async Task DisposeAsync()
    {
        if (Postfix is not null)
        {
            await Postfix.DisposeAsync();
        }
    }
}

/// <summary>
/// The seed setup end to end with the real sample gateway in front of a real Postfix: the cluster's
/// <c>ProxyProtocol: v1</c> (HAProxy's <c>send-proxy</c>) makes postscreen and smtpd see the original client.
/// </summary>
public sealed class PostfixGatewayTests(PostfixFixture fixture) : IClassFixture<PostfixFixture>
{
    private PostfixPeer Postfix => fixture.Postfix;

    [Fact]
    public async Task Seed_postscreen_with_upstream_proxy_protocol_sees_the_client_and_accepts_the_mail()
    {
        await using SampleGateway gateway = await SampleGateway.StartAsync(Postfix.PostscreenPort, "v1");

        string swaks = await RunSwaksAsync(gateway, "127.0.0.12");

        Assert.Contains("<-  250 2.0.0 Ok: queued", swaks, StringComparison.Ordinal);
        // postscreen logs the client and the address it dialled, both from the gateway's v1 header.
        await Postfix.WaitForLogAsync($@"postscreen\[\d+\]: CONNECT from \[127\.0\.0\.12\]:\d+ to \[127\.0\.0\.1\]:{gateway.Port}\b");
        await Postfix.WaitForLogAsync(@"smtpd\[\d+\]: connect from (unknown|localhost)\[127\.0\.0\.12\]");
        await Postfix.WaitForLogAsync(@"from=<a@b\.test>");
        await Postfix.WaitForLogAsync(@"to=<user@localhost>.*status=sent");
    }

    [Fact]
    public async Task Plain_smtpd_with_upstream_proxy_protocol_sees_the_client_and_accepts_the_mail()
    {
        await using SampleGateway gateway = await SampleGateway.StartAsync(Postfix.ProxySmtpdPort, "v1");

        string swaks = await RunSwaksAsync(gateway, "127.0.0.13");

        Assert.Contains("<-  250 2.0.0 Ok: queued", swaks, StringComparison.Ordinal);
        Match connect = await Postfix.WaitForLogAsync(@"smtpd\[(\d+)\]: connect from (unknown|localhost)\[127\.0\.0\.13\]");
        await Postfix.WaitForLogAsync($@"smtpd\[{connect.Groups[1].Value}\]: disconnect from (unknown|localhost)\[127\.0\.0\.13\].* quit=1");
    }

    [Fact]
    public async Task Header_sent_to_smtpd_not_expecting_one_is_answered_command_not_recognized()
    {
        // The misconfiguration users report: the gateway sends v1 but the backend smtpd has no upstream proxy protocol.
        await using SampleGateway gateway = await SampleGateway.StartAsync(Postfix.PlainSmtpdPort, "v1");
        await using RawClient client = await RawClient.ConnectAsync("127.0.0.17", gateway.Port);

        string? banner = await client.ReadLineAsync();
        await client.SendAsync("EHLO client.test\r\n");
        string? reply = await client.ReadLineAsync();

        Assert.StartsWith("220 ", banner, StringComparison.Ordinal);
        // smtpd read the gateway's "PROXY TCP4 ..." line as a command. Postfix 3.7.11 answers 500 (users quote 502).
        Assert.Matches(@"^50[02] 5\.5\.2 Error: command not recognized", reply);
        // Then EHLO is answered and QUIT closes: smtpd counted one unknown command (the header) from the gateway's
        // own address, never the client's.
        Assert.NotNull(await ReadReplyAsync(client, "250 "));
        await client.SendAsync("QUIT\r\n");
        Assert.NotNull(await ReadReplyAsync(client, "221 "));
        await Postfix.WaitForLogAsync(@"smtpd\[\d+\]: disconnect from localhost\[127\.0\.0\.1\] ehlo=1 quit=1 unknown=0/1 commands=2/3");
        Assert.DoesNotContain("127.0.0.17]", Postfix.Log, StringComparison.Ordinal);
    }

    [Fact]
    public async Task No_header_sent_to_postscreen_expecting_one_is_refused()
    {
        // The other half: the cluster has no ProxyProtocol metadata, postscreen waits for a header and gets "EHLO".
        await using SampleGateway gateway = await SampleGateway.StartAsync(Postfix.PostscreenPort, "");
        await using RawClient client = await RawClient.ConnectAsync("127.0.0.18", gateway.Port);

        // No banner comes (postscreen waits for the header); a client that talks first is refused at once.
        await client.SendAsync("EHLO client.test\r\n");
        string? reply = await client.ReadLineAsync();

        Assert.Equal("421 4.3.2 No system resources", reply);
        await Postfix.WaitForLogAsync(@"postscreen\[\d+\]: warning: haproxy read: (short|unrecognized) protocol header: EHLO client\.test");
        Assert.DoesNotContain("127.0.0.18", Postfix.Log, StringComparison.Ordinal);
    }

    private static async Task<string?> ReadReplyAsync(RawClient client, string last)
    {
        string? line;
        do
        {
            line = await client.ReadLineAsync();
        }
        while (line is not null && !line.StartsWith(last, StringComparison.Ordinal));
        return line;
    }

    private static async Task<string> RunSwaksAsync(SampleGateway gateway, string clientAddress)
    {
        string executable = RealPeerProcess.FindExecutable("swaks", "swaks");
        await using ChildProcess swaks = ChildProcess.Start(
            executable,
            [
                "--server", "127.0.0.1", "--port", gateway.Port.ToString(System.Globalization.CultureInfo.InvariantCulture),
                "--local-interface", clientAddress, "--to", "user@localhost", "--from", "a@b.test", "--timeout", "20",
            ],
            name: "swaks");
        int code = await swaks.WaitForExitAsync(TimeSpan.FromSeconds(30));
        // WaitForExitAsync may return before the last output lines are captured: wait for swaks' QUIT exchange.
        try
        {
            await swaks.WaitForLineAsync(new Regex(@"^<-  221 "), TimeSpan.FromSeconds(5));
        }
        catch (Exception e) when (e is TimeoutException or InvalidOperationException)
        {
            // Reported by the assertions below with the whole output.
        }
        string output = swaks.Output;
        Assert.True(code == 0, $"swaks exited with {code}:\n{output}\n--- gateway ---\n{gateway.Output}");
        return output;
    }
}
