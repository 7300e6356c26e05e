using System.Text;
using ProxyKestrel.Gateway.Mail;
using ProxyKestrel.Gateway.Tests.Infrastructure.Transports;
using static ProxyKestrel.Gateway.Tests.Mail.MailBackendDriver;

namespace ProxyKestrel.Gateway.Tests.Mail;

[NotPerTransport("pure protocol logic; no socket")]
public class SmtpBackendLoginTests
{
    private static readonly MailLogin AuthLogin = Login(MailProtocol.Smtp, MailLogin.MethodAuthLogin, "alice", "pw", helo: "client.example");

    private static readonly string AlicePlain = Convert.ToBase64String(Encoding.UTF8.GetBytes("\0alice\0pw"));

    [Fact]
    public void Process_MultiLineGreetingEhloAnd235_LoggedInWithAuthPlainAtEverySplit()
    {
        MailBackendRun run = AssertSplitInvariant(
            AuthLogin, "220-mx.backend ESMTP\r\n220 second line\r\n250-mx.backend\r\n250-AUTH PLAIN\r\n250 8BITMIME\r\n235 2.7.0 Authentication successful\r\n250 after\r\n");

        Assert.Equal(MailBackendStep.LoggedIn, run.Step);
        Assert.Equal($"EHLO client.example\r\nAUTH PLAIN {AlicePlain}\r\n", run.ToBackend);
        Assert.Equal("235 2.7.0 Authentication successful\r\n", run.ToClient);
        Assert.Equal("250 after\r\n", run.Unconsumed);
    }

    [Theory]
    [InlineData("535 5.7.8 Authentication credentials invalid\r\n")]
    [InlineData("454-4.7.0 Temporary authentication failure\r\n454 4.7.0 try later\r\n")]
    public void Process_AuthRefused_RejectedWithTheWholeReplyAtEverySplit(string answer)
    {
        MailBackendRun run = AssertSplitInvariant(AuthLogin, "220 mx\r\n250 mx\r\n" + answer);

        Assert.Equal(MailBackendStep.Rejected, run.Step);
        Assert.Equal(answer, run.ToClient);
    }

    [Fact]
    public void Process_NoHeloName_EhloWithTheServerName()
    {
        MailLogin login = Login(MailProtocol.Smtp, MailLogin.MethodPlain, "alice", "pw");

        MailBackendRun run = Run(login, "220 mx\r\n250 mx\r\n235 ok\r\n", []);

        Assert.Equal($"EHLO gw.test\r\nAUTH PLAIN {AlicePlain}\r\n", run.ToBackend);
    }

    [Theory]
    [InlineData("554 5.3.2 No service\r\n", "the backend greeted with \"554 5.3.2 No service\"")]
    [InlineData("220-mx\r\n250 mx\r\n", "the backend sent \"250 mx\", not an SMTP reply")]
    [InlineData("220 mx\r\n502 5.5.2 no EHLO\r\n", "the backend answered EHLO with \"502 5.5.2 no EHLO\"")]
    [InlineData("220 mx\r\n250 mx\r\n334 \r\n", "the backend answered AUTH with \"334 \"")]
    [InlineData("hello\r\n", "the backend sent \"hello\", not an SMTP reply")]
    public void Process_UnexpectedBackendReply_FailedWithReason(string backend, string reason)
    {
        MailBackendRun run = AssertSplitInvariant(AuthLogin, backend);

        Assert.Equal(MailBackendStep.Failed, run.Step);
        Assert.Equal(reason, run.Reason);
        Assert.Equal("", run.ToClient);
    }

    [Fact]
    public void Process_BareLfLines_NotTakenAsLines()
    {
        MailBackendRun run = Run(AuthLogin, "220 mx\n250 mx\n", []);

        Assert.Equal(MailBackendStep.NeedMore, run.Step);
        Assert.Equal("", run.ToBackend);
    }
}
