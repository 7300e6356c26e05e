using ProxyKestrel.Gateway.Tests.Infrastructure;
using ProxyKestrel.Gateway.Tests.RealPeers;

namespace ProxyKestrel.Gateway.Tests.Mail.Front;

/// <summary>
/// The SMTP submission front against a real Postfix whose submission smtpd authenticates with Dovecot SASL and takes
/// a PROXY header: the gateway answers EHLO, reads AUTH, replays both to Postfix, which logs the real client and the
/// SASL user; the message then goes through the relay. On every transport.
/// </summary>
public sealed class MailFrontSmtpTests
{
    private const string Client = "127.0.0.2";

    [Fact]
    public async Task Login_AuthPlainThenMessage_PostfixLogsTheRealClientAndTheSaslUser()
    {
        await using DovecotPeer sasl = await DovecotPeer.StartAsync("front-smtp-sasl", [("alice", "alice-pw", null)], authListener: true);
        await using PostfixPeer postfix = await PostfixPeer.StartAsync(sasl.AuthPort);
        await using GatewayHost gateway = await GatewayHost.StartAsync(MailFrontConfig.Smtp(FreePort.Next(), postfix.SubmissionPort!.Value, FreePort.Next()));
        using var measurements = GatewayMeasurements.Start(gateway);
        await using MailTestClient client = await MailTestClient.ConnectAsync(Client, gateway.EndPointOf("smtp").Port);

        Assert.Equal("220 mail.example.test ESMTP ready", await client.ReadLineAsync());
        List<string> ehlo = await client.CommandAsync("EHLO client.example.test", "250 ");
        // "\0alice\0alice-pw"
        string authenticated = (await client.CommandAsync("AUTH PLAIN AGFsaWNlAGFsaWNlLXB3", "2"))[^1];

        Assert.Contains("250-AUTH PLAIN LOGIN", ehlo);
        Assert.StartsWith("235 ", authenticated, StringComparison.Ordinal);
        // Relayed from here: Postfix's own answers.
        Assert.StartsWith("250 ", (await client.CommandAsync("MAIL FROM:<alice@localhost>", "250 "))[^1], StringComparison.Ordinal);
        Assert.StartsWith("250 ", (await client.CommandAsync("RCPT TO:<bob@localhost>", "250 "))[^1], StringComparison.Ordinal);
        Assert.StartsWith("354 ", (await client.CommandAsync("DATA", "354 "))[^1], StringComparison.Ordinal);
        Assert.StartsWith("250 ", (await client.CommandAsync("Subject: through the gateway\r\n\r\nhello\r\n.", "250 "))[^1], StringComparison.Ordinal);
        Assert.StartsWith("221 ", (await client.CommandAsync("QUIT", "221 "))[^1], StringComparison.Ordinal);
        Assert.Null(await client.ReadLineAsync());
        // The client's FIN too: the relay ends once both sides did.
        await client.DisposeAsync();
        // Logged with the message's queue id: the client the PROXY header named, the user the replayed AUTH gave.
        await postfix.WaitForLogAsync(@"client=\S+\[127\.0\.0\.2\], sasl_method=PLAIN, sasl_username=alice");
        await Net.WaitUntilAsync(() => measurements.Results("smtp").Contains("completed"), "the connection completed");
    }
}
