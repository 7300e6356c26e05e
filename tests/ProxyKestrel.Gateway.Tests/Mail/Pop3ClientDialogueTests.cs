using System.Buffers;
using System.Text;
using ProxyKestrel.Gateway.Mail;
using ProxyKestrel.Gateway.Tests.Infrastructure.Transports;
using static ProxyKestrel.Gateway.Tests.Mail.MailClientDriver;

namespace ProxyKestrel.Gateway.Tests.Mail;

[NotPerTransport("pure protocol logic; no socket")]
public class Pop3ClientDialogueTests
{
    private static readonly MailDialogueOptions Open = new() { ServerName = "pop.test", AllowPlaintextLogin = true, TlsAvailable = true };

    private static MailClientDialogue Pop3(MailDialogueOptions options) => MailClientDialogue.Create(MailProtocol.Pop3, options);

    private static string Plain(string message) => Convert.ToBase64String(Encoding.UTF8.GetBytes(message));

    [Fact]
    public void Process_CapaUserPass_SameRepliesAndLoginAtEverySplit()
    {
        MailClientRun run = AssertSplitInvariant(() => Pop3(Open), "CAPA\r\nuser alice\r\nPASS pass word\r\n");

        Assert.Equal(
            "+OK pop.test ready.\r\n+OK Capability list follows\r\nUSER\r\nSASL PLAIN\r\nSTLS\r\nRESP-CODES\r\nAUTH-RESP-CODE\r\n.\r\n" +
            "+OK Send your password\r\n",
            run.Replies);
        Assert.Equal("Pop3|USER|alice|" + Convert.ToHexString("pass word"u8) + "|-||", Describe(run.Login));
    }

    [Fact]
    public void Process_AuthPlainWithContinuation_SameRepliesAndLoginAtEverySplit()
    {
        MailClientRun run = AssertSplitInvariant(() => Pop3(Open), "AUTH PLAIN\r\n" + Plain("\0bob\0pw") + "\r\n");

        Assert.EndsWith("ready.\r\n+ \r\n", run.Replies);
        Assert.Equal("Pop3|PLAIN|bob|" + Convert.ToHexString("pw"u8) + "|-||", Describe(run.Login));
    }

    [Fact]
    public void Process_AuthPlainWithInitialResponse_LoginWithoutContinuation()
    {
        MailClientRun run = AssertSplitInvariant(() => Pop3(Open), "auth plain " + Plain("ops\0bob\0pw") + "\r\n");

        Assert.Equal("+OK pop.test ready.\r\n", run.Replies);
        Assert.Equal("Pop3|PLAIN|bob|" + Convert.ToHexString("pw"u8) + "|" + Convert.ToHexString("ops"u8) + "||", Describe(run.Login));
    }

    [Fact]
    public void Process_PipelinedInOneBuffer_LeavesWhatFollowsPass()
    {
        MailClientRun run = Run(Pop3(Open), "USER a\r\nPASS b\r\nSTAT\r\n");

        Assert.Equal("Pop3|USER|a|" + Convert.ToHexString("b"u8) + "|-||", Describe(run.Login));
        Assert.Equal("STAT\r\n", run.Unconsumed);
    }

    [Fact]
    public void Process_CancelledAuthAndMalformedResponse_ErrorsThenLoginStillWorks()
    {
        MailClientRun run = AssertSplitInvariant(() => Pop3(Open), "AUTH PLAIN\r\n*\r\nAUTH PLAIN @@@@\r\nUSER u\r\nPASS p\r\n");

        Assert.EndsWith("+ \r\n-ERR Authentication cancelled\r\n-ERR Invalid SASL PLAIN response\r\n+OK Send your password\r\n", run.Replies);
        Assert.Equal(MailClientStep.Login, run.Step);
    }

    [Fact]
    public void Process_PassWithoutUserAndUnknownCommands_Errors()
    {
        MailClientRun run = Run(Pop3(Open), "PASS x\r\nSTAT\r\nAUTH CRAM-MD5\r\n");

        Assert.EndsWith("-ERR USER first\r\n-ERR Unknown command or wrong arguments\r\n-ERR Unsupported mechanism or wrong arguments\r\n", run.Replies);
        Assert.Null(run.Login);
    }

    [Fact]
    public void Process_StlsThenTlsStarted_StlsGoneAndPlaintextMethodsOffered()
    {
        MailClientDialogue dialogue = Pop3(Open with { AllowPlaintextLogin = false });
        MailClientRun before = Run(dialogue, "CAPA\r\nUSER u\r\nSTLS\r\nPASS injected\r\n");

        Assert.Equal(
            "+OK pop.test ready.\r\n+OK Capability list follows\r\nSTLS\r\nRESP-CODES\r\nAUTH-RESP-CODE\r\n.\r\n" +
            "-ERR [AUTH] Plaintext authentication is not allowed without TLS\r\n+OK Begin TLS negotiation\r\n",
            before.Replies);
        Assert.Equal(MailClientStep.StartTls, before.Step);
        Assert.Equal("PASS injected\r\n", before.Unconsumed);

        dialogue.TlsStarted();
        MailClientRun after = Run(dialogue, "CAPA\r\nSTLS\r\nUSER u\r\nPASS p\r\n", greeting: false);

        Assert.Equal(
            "+OK Capability list follows\r\nUSER\r\nSASL PLAIN\r\nRESP-CODES\r\nAUTH-RESP-CODE\r\n.\r\n-ERR TLS is already active\r\n" +
            "+OK Send your password\r\n",
            after.Replies);
        Assert.Equal("Pop3|USER|u|" + Convert.ToHexString("p"u8) + "|-||", Describe(after.Login));
    }

    [Fact]
    public void Process_PlaintextAuthWithoutTls_AuthErrorAndNoLogin()
    {
        MailClientRun run = Run(Pop3(new MailDialogueOptions()), "AUTH\r\nAUTH PLAIN " + Plain("\0u\0p") + "\r\n");

        Assert.EndsWith("+OK\r\n.\r\n-ERR [AUTH] Plaintext authentication is not allowed without TLS\r\n", run.Replies);
        Assert.Null(run.Login);
    }

    [Fact]
    public void Process_Quit_OkThenClose()
    {
        MailClientRun run = AssertSplitInvariant(() => Pop3(Open), "QUIT\r\n");

        Assert.EndsWith("+OK pop.test signing off\r\n", run.Replies);
        Assert.Equal(MailClientStep.Close, run.Step);
    }

    [Fact]
    public void Process_LineOverMaxLineLength_ErrAndClose()
    {
        MailClientRun run = Run(Pop3(Open with { MaxLineLength = 16 }), "USER " + new string('u', 12) + "\r\n");

        Assert.EndsWith("-ERR Line too long\r\n", run.Replies);
        Assert.Equal(MailClientStep.Close, run.Step);
    }

    [Fact]
    public void Process_TooManyInvalidCommands_ClosingErrAfterTheLast()
    {
        MailClientRun run = Run(Pop3(Open with { MaxInvalidCommands = 2 }), "LIST\r\nRETR 1\r\nQUIT\r\n");

        Assert.EndsWith("-ERR Unknown command or wrong arguments\r\n-ERR Unknown command or wrong arguments\r\n-ERR Too many invalid commands\r\n", run.Replies);
        Assert.Equal(MailClientStep.Close, run.Step);
        Assert.Equal("QUIT\r\n", run.Unconsumed);
    }

    [Fact]
    public void WriteLoginRejected_AfterPass_AuthErrAndUserMustBeGivenAgain()
    {
        MailClientDialogue dialogue = Pop3(Open);
        MailClientRun first = Run(dialogue, "USER u\r\nPASS bad\r\n");
        var reply = new ArrayBufferWriter<byte>();
        dialogue.WriteLoginRejected(reply, first.Login!, "Invalid credentials");
        MailClientRun second = Run(dialogue, "PASS again\r\nUSER u\r\nPASS good\r\n", greeting: false);
        dialogue.WriteTemporaryFailure(reply, second.Login!, "Try later");

        Assert.Equal("-ERR [AUTH] Invalid credentials\r\n-ERR [SYS/TEMP] Try later\r\n", Text(reply.WrittenMemory));
        Assert.StartsWith("-ERR USER first\r\n", second.Replies);
        Assert.Equal("Pop3|USER|u|" + Convert.ToHexString("good"u8) + "|-||", Describe(second.Login));
    }
}
