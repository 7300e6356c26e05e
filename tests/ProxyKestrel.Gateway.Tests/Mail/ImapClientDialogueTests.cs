using System.Buffers;
using System.Text;
using ProxyKestrel.Gateway.Mail;
using ProxyKestrel.Gateway.Tests.Infrastructure.Transports;
using static ProxyKestrel.Gateway.Tests.Mail.MailClientDriver;

namespace ProxyKestrel.Gateway.Tests.Mail;

[NotPerTransport("pure protocol logic; no socket")]
public class ImapClientDialogueTests
{
    private static readonly MailDialogueOptions Open = new() { ServerName = "mx.test", AllowPlaintextLogin = true, TlsAvailable = true };

    private const string OpenCapabilities = "IMAP4rev1 SASL-IR LITERAL+ ID ENABLE STARTTLS AUTH=PLAIN";

    private static MailClientDialogue Imap(MailDialogueOptions options) => MailClientDialogue.Create(MailProtocol.Imap, options);

    private static string Plain(string message) => Convert.ToBase64String(Encoding.UTF8.GetBytes(message));

    [Fact]
    public void Process_LiteralLoginAfterCapabilityNoopId_SameRepliesAndLoginAtEverySplit()
    {
        const string stream = "a1 CAPABILITY\r\nA2 noop\r\nx3 ID (\"name\" \"test client\")\r\nt4 LOGIN {5}\r\nalice {6+}\r\ns3cr\"t\r\n";

        MailClientRun run = AssertSplitInvariant(() => Imap(Open), stream);

        Assert.Equal(
            $"* OK [CAPABILITY {OpenCapabilities}] mx.test ready.\r\n" +
            $"* CAPABILITY {OpenCapabilities}\r\na1 OK CAPABILITY completed\r\nA2 OK NOOP completed\r\n" +
            "* ID NIL\r\nx3 OK ID completed\r\n+ OK\r\n",
            run.Replies);
        Assert.Equal(MailClientStep.Login, run.Step);
        Assert.Equal("Imap|LOGIN|alice|" + Convert.ToHexString("s3cr\"t"u8) + "|-|t4|", Describe(run.Login));
    }

    [Fact]
    public void Process_AuthenticatePlainWithContinuation_SameRepliesAndLoginAtEverySplit()
    {
        string stream = "Tag7 authenticate plain\r\n" + Plain("admin\0bob\0pa ss") + "\r\n";

        MailClientRun run = AssertSplitInvariant(() => Imap(Open), stream);

        Assert.EndsWith("ready.\r\n+ \r\n", run.Replies);
        Assert.Equal(MailClientStep.Login, run.Step);
        Assert.Equal("Imap|PLAIN|bob|" + Convert.ToHexString("pa ss"u8) + "|" + Convert.ToHexString("admin"u8) + "|Tag7|", Describe(run.Login));
    }

    [Fact]
    public void Process_AuthenticatePlainWithSaslIr_LoginWithoutContinuation()
    {
        MailClientRun run = AssertSplitInvariant(() => Imap(Open), "a AUTHENTICATE PLAIN " + Plain("\0bob\0pw") + "\r\n");

        Assert.DoesNotContain("\r\n+ \r\n", run.Replies);
        Assert.Equal("Imap|PLAIN|bob|" + Convert.ToHexString("pw"u8) + "|-|a|", Describe(run.Login));
    }

    [Fact]
    public void Process_PipelinedCommandsInOneBuffer_RepliesToAllAndLeavesWhatFollowsTheLogin()
    {
        MailClientRun run = Run(Imap(Open), "1 NOOP\r\n2 LOGIN \"a\\\\b\\\"c\" {2+}\r\npw\r\n3 SELECT INBOX\r\n4 NOOP\r\n");

        Assert.EndsWith("ready.\r\n1 OK NOOP completed\r\n", run.Replies);
        Assert.Equal("Imap|LOGIN|a\\b\"c|" + Convert.ToHexString("pw"u8) + "|-|2|", Describe(run.Login));
        Assert.Equal("3 SELECT INBOX\r\n4 NOOP\r\n", run.Unconsumed);
    }

    [Fact]
    public void Process_CancelledAuthenticate_TaggedBadThenALoginStillWorks()
    {
        MailClientRun run = AssertSplitInvariant(() => Imap(Open), "c1 AUTHENTICATE PLAIN\r\n*\r\nc2 LOGIN u p\r\n");

        Assert.EndsWith("+ \r\nc1 BAD Authentication cancelled\r\n", run.Replies);
        Assert.Equal("Imap|LOGIN|u|" + Convert.ToHexString("p"u8) + "|-|c2|", Describe(run.Login));
    }

    [Theory]
    [InlineData("a AUTHENTICATE PLAIN !!!!\r\n")]
    [InlineData("a AUTHENTICATE PLAIN Ym9i\r\n")]
    [InlineData("a AUTHENTICATE PLAIN =\r\n")]
    public void Process_MalformedSaslResponse_TaggedBadAndNoLogin(string stream)
    {
        MailClientRun run = Run(Imap(Open), stream);

        Assert.EndsWith("a BAD Invalid SASL PLAIN response\r\n", run.Replies);
        Assert.Equal(MailClientStep.NeedMore, run.Step);
        Assert.Null(run.Login);
    }

    [Fact]
    public void Process_StartTlsThenTlsStarted_StartTlsGoneFromCapabilitiesAndLoginAllowed()
    {
        MailClientDialogue dialogue = Imap(Open with { AllowPlaintextLogin = false });
        MailClientRun before = Run(dialogue, "s1 CAPABILITY\r\ns2 STARTTLS\r\ns3 LOGIN injected x\r\n");

        Assert.Contains("* CAPABILITY IMAP4rev1 SASL-IR LITERAL+ ID ENABLE STARTTLS LOGINDISABLED\r\n", before.Replies);
        Assert.EndsWith("s2 OK Begin TLS negotiation now\r\n", before.Replies);
        Assert.Equal(MailClientStep.StartTls, before.Step);
        Assert.Equal("s3 LOGIN injected x\r\n", before.Unconsumed);
        Assert.Throws<InvalidOperationException>(() => Run(dialogue, "s4 NOOP\r\n", greeting: false));

        dialogue.TlsStarted();
        MailClientRun after = Run(dialogue, "s4 CAPABILITY\r\ns5 STARTTLS\r\ns6 LOGIN u p\r\n", greeting: false);

        Assert.Equal(
            "* CAPABILITY IMAP4rev1 SASL-IR LITERAL+ ID ENABLE AUTH=PLAIN\r\ns4 OK CAPABILITY completed\r\ns5 BAD TLS is already active\r\n",
            after.Replies);
        Assert.Equal("Imap|LOGIN|u|" + Convert.ToHexString("p"u8) + "|-|s6|", Describe(after.Login));
    }

    [Fact]
    public void Process_PlaintextLoginWithoutTls_PrivacyRequiredAndNoLogin()
    {
        MailClientRun run = Run(Imap(new MailDialogueOptions()), "a LOGIN u p\r\nb AUTHENTICATE PLAIN\r\n");

        Assert.Equal(
            "* OK [CAPABILITY IMAP4rev1 SASL-IR LITERAL+ ID ENABLE LOGINDISABLED] proxykestrel ready.\r\n" +
            "a NO [PRIVACYREQUIRED] LOGIN is not allowed without TLS\r\n" +
            "b NO [PRIVACYREQUIRED] AUTHENTICATE PLAIN is not allowed without TLS\r\n",
            run.Replies);
        Assert.Equal(MailClientStep.NeedMore, run.Step);
        Assert.Null(run.Login);
    }

    [Fact]
    public void Process_PlaintextNotAllowedButTlsActive_Login()
    {
        MailClientRun run = Run(Imap(new MailDialogueOptions { TlsActive = true, TlsAvailable = true }), "a LOGIN u p\r\n");

        Assert.StartsWith("* OK [CAPABILITY IMAP4rev1 SASL-IR LITERAL+ ID ENABLE AUTH=PLAIN] ", run.Replies);
        Assert.Equal(MailClientStep.Login, run.Step);
    }

    [Theory]
    [InlineData(64, false)]
    [InlineData(65, true)]
    public void Process_LineAtAndOverMaxLineLength_OnlyTheLongerOneSaysByeAndCloses(int length, bool tooLong)
    {
        string line = "a NOOP" + new string(' ', length - 6) + "\r\n";
        MailClientRun run = Run(Imap(Open with { MaxLineLength = 64 }), line);

        Assert.Equal(tooLong, run.Replies.EndsWith("* BYE Line too long\r\n", StringComparison.Ordinal));
        Assert.Equal(tooLong ? MailClientStep.Close : MailClientStep.NeedMore, run.Step);
        Assert.Equal(!tooLong, run.Replies.EndsWith("a OK NOOP completed\r\n", StringComparison.Ordinal));
    }

    [Fact]
    public void Process_LongLineWithoutCrlf_ClosesWithoutWaitingForTheEnd()
    {
        MailClientRun run = Run(Imap(Open with { MaxLineLength = 64 }), "a LOGIN " + new string('x', 100));

        Assert.EndsWith("* BYE Line too long\r\n", run.Replies);
        Assert.Equal(MailClientStep.Close, run.Step);
    }

    [Fact]
    public void Process_LiteralOverMaxLineLength_ByeWithoutContinuation()
    {
        MailClientRun run = Run(Imap(Open with { MaxLineLength = 64 }), "a LOGIN {65}\r\n");

        Assert.DoesNotContain("+ OK", run.Replies);
        Assert.EndsWith("* BYE Line too long\r\n", run.Replies);
        Assert.Equal(MailClientStep.Close, run.Step);
    }

    [Fact]
    public void Process_TooManyInvalidCommands_BadEachThenByeAndRestUnread()
    {
        MailClientRun run = Run(Imap(Open with { MaxInvalidCommands = 3 }), "a FOO\r\n\r\nc LOGIN onlyone\r\nd NOOP\r\n");

        Assert.EndsWith(
            "a BAD Unknown command or wrong arguments\r\n* BAD Invalid tag\r\nc BAD Unknown command or wrong arguments\r\n" +
            "* BYE Too many invalid commands\r\n",
            run.Replies);
        Assert.Equal(MailClientStep.Close, run.Step);
        Assert.Equal("d NOOP\r\n", run.Unconsumed);
    }

    [Fact]
    public void Process_Logout_ByeAndTaggedOkThenClose()
    {
        MailClientRun run = AssertSplitInvariant(() => Imap(Open), "z LOGOUT\r\n");

        Assert.EndsWith("* BYE mx.test logging out\r\nz OK LOGOUT completed\r\n", run.Replies);
        Assert.Equal(MailClientStep.Close, run.Step);
    }

    [Fact]
    public void WriteLoginRejected_AfterLogin_TaggedNoAndTheNextLoginIsRead()
    {
        MailClientDialogue dialogue = Imap(Open);
        MailClientRun first = Run(dialogue, "A01 LOGIN u wrong\r\n");
        var reply = new ArrayBufferWriter<byte>();
        Assert.Throws<InvalidOperationException>(() => Run(dialogue, "A02 NOOP\r\n", greeting: false));

        dialogue.WriteLoginRejected(reply, first.Login!, "Invalid\r\ncredentials");
        MailClientRun second = Run(dialogue, "A02 LOGIN u right\r\n", greeting: false);
        dialogue.WriteTemporaryFailure(reply, second.Login!, "Backend unavailable");

        Assert.Equal("A01 NO [AUTHENTICATIONFAILED] Invalid  credentials\r\nA02 NO [UNAVAILABLE] Backend unavailable\r\n", Text(reply.WrittenMemory));
        Assert.Equal("Imap|LOGIN|u|" + Convert.ToHexString("right"u8) + "|-|A02|", Describe(second.Login));
        Assert.Throws<InvalidOperationException>(() => dialogue.WriteLoginRejected(reply, second.Login!, "again"));
    }

    [Fact]
    public void Process_LiteralWithNul_BadAndNoLogin()
    {
        MailClientRun run = Run(Imap(Open), "a LOGIN u {3+}\r\np\0w\r\n");

        Assert.EndsWith("a BAD Invalid user name or password\r\n", run.Replies);
        Assert.Null(run.Login);
    }

    [Fact]
    public void Process_UnterminatedQuote_TaggedBadSyntaxError()
    {
        MailClientRun run = Run(Imap(Open), "q LOGIN \"user pass\r\n");

        Assert.EndsWith("q BAD Syntax error\r\n", run.Replies);
        Assert.Equal(MailClientStep.NeedMore, run.Step);
    }
}
