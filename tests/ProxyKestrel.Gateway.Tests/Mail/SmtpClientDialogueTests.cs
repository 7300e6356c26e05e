using System.Buffers;
using System.Text;
using ProxyKestrel.Gateway.Mail;
using ProxyKestrel.Gateway.Tests.Infrastructure.Transports;
using static ProxyKestrel.Gateway.Tests.Mail.MailClientDriver;

namespace ProxyKestrel.Gateway.Tests.Mail;

[NotPerTransport("pure protocol logic; no socket")]
public class SmtpClientDialogueTests
{
    private static readonly MailDialogueOptions Open = new() { ServerName = "smtp.test", AllowPlaintextLogin = true, TlsAvailable = true };

    private const string OpenEhlo = "250-smtp.test\r\n250-STARTTLS\r\n250-AUTH PLAIN LOGIN\r\n250-ENHANCEDSTATUSCODES\r\n250 8BITMIME\r\n";

    private static MailClientDialogue Smtp(MailDialogueOptions options) => MailClientDialogue.Create(MailProtocol.Smtp, options);

    private static string B64(string text) => Convert.ToBase64String(Encoding.UTF8.GetBytes(text));

    [Fact]
    public void Process_EhloAuthLoginWithContinuations_SameRepliesAndLoginAtEverySplit()
    {
        string stream = "EHLO client.example\r\nNOOP\r\nAUTH LOGIN\r\n" + B64("alice") + "\r\n" + B64("p w") + "\r\n";

        MailClientRun run = AssertSplitInvariant(() => Smtp(Open), stream);

        Assert.Equal("220 smtp.test ESMTP ready\r\n" + OpenEhlo + "250 2.0.0 OK\r\n334 VXNlcm5hbWU6\r\n334 UGFzc3dvcmQ6\r\n", run.Replies);
        Assert.Equal("Smtp|AUTH-LOGIN|alice|" + Convert.ToHexString("p w"u8) + "|-||client.example", Describe(run.Login));
    }

    [Fact]
    public void Process_AuthPlainWithContinuation_SameRepliesAndLoginAtEverySplit()
    {
        MailClientRun run = AssertSplitInvariant(() => Smtp(Open), "ehlo c\r\nauth plain\r\n" + B64("\0bob\0pw") + "\r\n");

        Assert.EndsWith("250 8BITMIME\r\n334 \r\n", run.Replies);
        Assert.Equal("Smtp|PLAIN|bob|" + Convert.ToHexString("pw"u8) + "|-||c", Describe(run.Login));
    }

    [Fact]
    public void Process_InitialResponses_PlainAndLoginWithoutUsernamePrompt()
    {
        MailClientRun plain = Run(Smtp(Open), "EHLO c\r\nAUTH PLAIN " + B64("z\0bob\0pw") + "\r\nMAIL FROM:<a@b>\r\n");
        MailClientRun login = AssertSplitInvariant(() => Smtp(Open), "EHLO c\r\nAUTH LOGIN " + B64("carol") + "\r\n" + B64("pw") + "\r\n");

        Assert.Equal("Smtp|PLAIN|bob|" + Convert.ToHexString("pw"u8) + "|" + Convert.ToHexString("z"u8) + "||c", Describe(plain.Login));
        Assert.Equal("MAIL FROM:<a@b>\r\n", plain.Unconsumed);
        Assert.EndsWith("250 8BITMIME\r\n334 UGFzc3dvcmQ6\r\n", login.Replies);
        Assert.Equal("Smtp|AUTH-LOGIN|carol|" + Convert.ToHexString("pw"u8) + "|-||c", Describe(login.Login));
    }

    [Fact]
    public void Process_CancelAndOrderErrors_RepliesPerRfc4954()
    {
        MailClientRun run = AssertSplitInvariant(
            () => Smtp(Open),
            "AUTH PLAIN\r\nMAIL FROM:<a@b>\r\nHELO c\r\nAUTH PLAIN\r\nEHLO c\r\nAUTH LOGIN\r\n*\r\nAUTH CRAM-MD5\r\nVRFY x\r\nAUTH PLAIN ???\r\nAUTH PLAIN " + B64("\0u\0p") + "\r\n");

        Assert.Equal(
            "220 smtp.test ESMTP ready\r\n503 5.5.1 EHLO first\r\n530 5.7.0 Authentication required\r\n250 smtp.test\r\n503 5.5.1 EHLO first\r\n" + OpenEhlo +
            "334 VXNlcm5hbWU6\r\n501 5.7.0 Authentication cancelled\r\n504 5.5.4 Unrecognized authentication type\r\n" +
            "502 5.5.2 Command not recognized\r\n501 5.5.2 Invalid SASL PLAIN response\r\n",
            run.Replies);
        Assert.Equal("Smtp|PLAIN|u|" + Convert.ToHexString("p"u8) + "|-||c", Describe(run.Login));
    }

    [Fact]
    public void Process_StartTlsThenTlsStarted_EhloRequiredAgainAndStartTlsGone()
    {
        MailClientDialogue dialogue = Smtp(Open with { AllowPlaintextLogin = false });
        MailClientRun before = Run(dialogue, "EHLO c\r\nAUTH PLAIN\r\nSTARTTLS\r\nAUTH PLAIN injected\r\n");

        Assert.Equal(
            "220 smtp.test ESMTP ready\r\n250-smtp.test\r\n250-STARTTLS\r\n250-ENHANCEDSTATUSCODES\r\n250 8BITMIME\r\n" +
            "538 5.7.11 Encryption required\r\n220 2.0.0 Ready to start TLS\r\n",
            before.Replies);
        Assert.Equal(MailClientStep.StartTls, before.Step);
        Assert.Equal("AUTH PLAIN injected\r\n", before.Unconsumed);

        dialogue.TlsStarted();
        MailClientRun after = Run(dialogue, "AUTH PLAIN\r\nEHLO again\r\nSTARTTLS\r\nAUTH PLAIN " + B64("\0u\0p") + "\r\n", greeting: false);

        Assert.Equal(
            "503 5.5.1 EHLO first\r\n250-smtp.test\r\n250-AUTH PLAIN LOGIN\r\n250-ENHANCEDSTATUSCODES\r\n250 8BITMIME\r\n503 5.5.1 TLS already active\r\n",
            after.Replies);
        Assert.Equal("Smtp|PLAIN|u|" + Convert.ToHexString("p"u8) + "|-||again", Describe(after.Login));
    }

    [Fact]
    public void Process_Quit_ByeThenClose()
    {
        MailClientRun run = AssertSplitInvariant(() => Smtp(Open), "EHLO c\r\nQUIT\r\n");

        Assert.EndsWith("221 2.0.0 Bye\r\n", run.Replies);
        Assert.Equal(MailClientStep.Close, run.Step);
    }

    [Fact]
    public void Process_LineOverMaxLineLength_500AndClose()
    {
        MailClientRun run = Run(Smtp(Open with { MaxLineLength = 16 }), "EHLO " + new string('h', 20));

        Assert.EndsWith("500 5.5.6 Line too long\r\n", run.Replies);
        Assert.Equal(MailClientStep.Close, run.Step);
    }

    [Fact]
    public void Process_TooManyInvalidCommands_421AfterTheLast()
    {
        MailClientRun run = Run(Smtp(Open with { MaxInvalidCommands = 2 }), "\r\nRCPT TO:<a@b>\r\nQUIT\r\n");

        Assert.EndsWith("500 5.5.2 Syntax error\r\n530 5.7.0 Authentication required\r\n421 4.7.0 smtp.test Too many invalid commands, closing connection\r\n", run.Replies);
        Assert.Equal(MailClientStep.Close, run.Step);
        Assert.Equal("QUIT\r\n", run.Unconsumed);
    }

    [Fact]
    public void WriteLoginRejected_AfterAuth_535AndAuthCanBeRetriedWithoutEhlo()
    {
        MailClientDialogue dialogue = Smtp(Open);
        MailClientRun first = Run(dialogue, "EHLO c\r\nAUTH PLAIN " + B64("\0u\0bad") + "\r\n");
        var reply = new ArrayBufferWriter<byte>();
        dialogue.WriteLoginRejected(reply, first.Login!, "Authentication credentials invalid");
        MailClientRun second = Run(dialogue, "AUTH PLAIN " + B64("\0u\0good") + "\r\n", greeting: false);
        dialogue.WriteTemporaryFailure(reply, second.Login!, "Try again later");

        Assert.Equal("535 5.7.8 Authentication credentials invalid\r\n454 4.7.0 Try again later\r\n", Text(reply.WrittenMemory));
        Assert.Equal("Smtp|PLAIN|u|" + Convert.ToHexString("good"u8) + "|-||c", Describe(second.Login));
    }

    [Theory]
    [InlineData(false, "535 5.7.0", "535 5.7.0 No")]
    [InlineData(false, "550", "550 No")]
    [InlineData(true, "451 4.3.0", "451 4.3.0 No")]
    [InlineData(false, "451 4.3.0", "535 5.7.8 No")]
    [InlineData(true, "535 5.7.0", "454 4.7.0 No")]
    [InlineData(false, "535 4.7.0", "535 5.7.8 No")]
    [InlineData(false, "535 5.7.0\r\n250 OK", "535 5.7.8 No")]
    [InlineData(false, null, "535 5.7.8 No")]
    public void WriteLoginAnswer_AuthScriptsReplyCode_UsedOnlyWhenItFitsTheAnswer(bool temporary, string? code, string expected)
    {
        MailClientDialogue dialogue = Smtp(Open);
        MailClientRun run = Run(dialogue, "EHLO c\r\nAUTH PLAIN " + B64("\0u\0pw") + "\r\n");
        var reply = new ArrayBufferWriter<byte>();

        if (temporary)
        {
            dialogue.WriteTemporaryFailure(reply, run.Login!, "No", code);
        }
        else
        {
            dialogue.WriteLoginRejected(reply, run.Login!, "No", code);
        }

        Assert.Equal(expected + "\r\n", Text(reply.WrittenMemory));
    }
}
