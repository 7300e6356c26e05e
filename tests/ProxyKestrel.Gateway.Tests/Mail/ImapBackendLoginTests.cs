using System.Text;
using ProxyKestrel.Gateway.Mail;
using ProxyKestrel.Gateway.Tests.Infrastructure.Transports;
using static ProxyKestrel.Gateway.Tests.Mail.MailBackendDriver;

namespace ProxyKestrel.Gateway.Tests.Mail;

[NotPerTransport("pure protocol logic; no socket")]
public class ImapBackendLoginTests
{
    private static readonly MailLogin Alice = Login(MailProtocol.Imap, MailLogin.MethodLogin, "alice", "pa\"ss\\", tag: "t4");

    [Fact]
    public void Process_GreetingThenTaggedOk_QuotedLoginWithClientTagAndUntaggedForwardedAtEverySplit()
    {
        MailBackendRun run = AssertSplitInvariant(
            Alice, "* OK [CAPABILITY IMAP4rev1] backend ready\r\n* CAPABILITY IMAP4rev1 IDLE\r\nt4 OK [CAPABILITY IMAP4rev1 IDLE] Logged in\r\n* 3 EXISTS\r\n");

        Assert.Equal(MailBackendStep.LoggedIn, run.Step);
        Assert.Equal("t4 LOGIN \"alice\" \"pa\\\"ss\\\\\"\r\n", run.ToBackend);
        Assert.Equal("* CAPABILITY IMAP4rev1 IDLE\r\nt4 OK [CAPABILITY IMAP4rev1 IDLE] Logged in\r\n", run.ToClient);
        Assert.Equal("* 3 EXISTS\r\n", run.Unconsumed);
        Assert.Null(run.Reason);
    }

    [Theory]
    [InlineData("t4 NO [AUTHENTICATIONFAILED] Invalid credentials")]
    [InlineData("t4 BAD Command syntax")]
    public void Process_TaggedNoOrBad_RejectedWithTheBackendsLineAtEverySplit(string answer)
    {
        MailBackendRun run = AssertSplitInvariant(Alice, "* OK hi\r\n" + answer + "\r\n");

        Assert.Equal(MailBackendStep.Rejected, run.Step);
        Assert.Equal(answer + "\r\n", run.ToClient);
    }

    [Theory]
    [InlineData("* BYE too busy\r\n", "the backend greeted with \"* BYE too busy\"")]
    [InlineData("* PREAUTH welcome\r\n", "the backend greeted with \"* PREAUTH welcome\"")]
    [InlineData("* OK hi\r\n* BYE shutting down\r\n", "the backend answered the login with \"* BYE shutting down\"")]
    [InlineData("* OK hi\r\n* 1 EXISTS\r\nother OK what\r\n", "the backend answered the login with \"other OK what\"")]
    [InlineData("* OK hi\r\n+ go on\r\n", "the backend answered the login with \"+ go on\"")]
    public void Process_UnexpectedBackendLine_FailedWithReasonAndNothingForTheClient(string backend, string reason)
    {
        MailBackendRun run = AssertSplitInvariant(Alice, backend);

        Assert.Equal(MailBackendStep.Failed, run.Step);
        Assert.Equal(reason, run.Reason);
        Assert.Equal("", run.ToClient);
        Assert.DoesNotContain("pa\"ss", run.Reason);
    }

    [Theory]
    [InlineData(MailLogin.MethodPlain, "bob", "pw", null)]
    [InlineData(MailLogin.MethodLogin, "bob", "pässword", null)]
    [InlineData(MailLogin.MethodLogin, "bob", "pw\r\nA2 LOGOUT", null)]
    [InlineData(MailLogin.MethodPlain, "bob", "pw", "admin")]
    public void Process_PlainOrUnquotableValues_AuthenticatePlainWithSaslIr(string method, string user, string password, string? authz)
    {
        MailLogin login = Login(MailProtocol.Imap, method, user, password, tag: "x", authz: authz);

        MailBackendRun run = Run(login, "* OK hi\r\nx OK done\r\n", []);

        string expected = Convert.ToBase64String(Encoding.UTF8.GetBytes($"{authz}\0{user}\0{password}"));
        Assert.Equal($"x AUTHENTICATE PLAIN {expected}\r\n", run.ToBackend);
        Assert.Equal(MailBackendStep.LoggedIn, run.Step);
    }

    [Fact]
    public void Process_AfterTheOutcome_Throws()
    {
        MailBackendLogin replay = MailBackendLogin.Create(Alice);
        var writer = new System.Buffers.ArrayBufferWriter<byte>();
        var input = new System.Buffers.ReadOnlySequence<byte>("* BYE\r\n"u8.ToArray());
        Assert.Equal(MailBackendStep.Failed, replay.Process(ref input, writer, writer, out _));

        Assert.Throws<InvalidOperationException>(() => replay.Process(ref input, writer, writer, out _));
    }
}
