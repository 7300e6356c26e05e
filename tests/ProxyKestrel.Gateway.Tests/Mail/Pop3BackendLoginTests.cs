using System.Text;
using ProxyKestrel.Gateway.Mail;
using ProxyKestrel.Gateway.Tests.Infrastructure.Transports;
using static ProxyKestrel.Gateway.Tests.Mail.MailBackendDriver;

namespace ProxyKestrel.Gateway.Tests.Mail;

[NotPerTransport("pure protocol logic; no socket")]
public class Pop3BackendLoginTests
{
    private static readonly MailLogin UserPass = Login(MailProtocol.Pop3, MailLogin.MethodUser, "alice", "pass word");

    [Fact]
    public void Process_UserPassAccepted_LoggedInWithTheBackendsOkAtEverySplit()
    {
        MailBackendRun run = AssertSplitInvariant(UserPass, "+OK POP3 ready <1.2@b>\r\n+OK\r\n+OK Logged in.\r\n+OK 2 320\r\n");

        Assert.Equal(MailBackendStep.LoggedIn, run.Step);
        Assert.Equal("USER alice\r\nPASS pass word\r\n", run.ToBackend);
        Assert.Equal("+OK Logged in.\r\n", run.ToClient);
        Assert.Equal("+OK 2 320\r\n", run.Unconsumed);
    }

    [Theory]
    [InlineData("+OK ready\r\n+OK\r\n-ERR [AUTH] Authentication failed.\r\n", "-ERR [AUTH] Authentication failed.\r\n")]
    [InlineData("+OK ready\r\n-ERR [AUTH] No such user\r\n", "-ERR [AUTH] No such user\r\n")]
    public void Process_UserOrPassRefused_RejectedWithTheBackendsErrAtEverySplit(string backend, string toClient)
    {
        MailBackendRun run = AssertSplitInvariant(UserPass, backend);

        Assert.Equal(MailBackendStep.Rejected, run.Step);
        Assert.Equal(toClient, run.ToClient);
    }

    [Theory]
    [InlineData("+OK\r\n", true)]
    [InlineData("-ERR [AUTH] nope\r\n", false)]
    public void Process_PlainLogin_AuthPlainWithInitialResponseAtEverySplit(string answer, bool accepted)
    {
        MailLogin login = Login(MailProtocol.Pop3, MailLogin.MethodPlain, "bob", "pw", authz: "ops");

        MailBackendRun run = AssertSplitInvariant(login, "+OK hi\r\n" + answer);

        Assert.Equal("AUTH PLAIN " + Convert.ToBase64String(Encoding.UTF8.GetBytes("ops\0bob\0pw")) + "\r\n", run.ToBackend);
        Assert.Equal(accepted ? MailBackendStep.LoggedIn : MailBackendStep.Rejected, run.Step);
        Assert.Equal(answer, run.ToClient);
    }

    [Theory]
    [InlineData("-ERR [SYS/TEMP] busy\r\n", "the backend greeted with \"-ERR [SYS/TEMP] busy\"")]
    [InlineData("+OKAY\r\n", "the backend greeted with \"+OKAY\"")]
    [InlineData("+OK hi\r\n+ \r\n", "the backend answered the login with \"+ \"")]
    public void Process_UnexpectedBackendLine_FailedWithReason(string backend, string reason)
    {
        MailBackendRun run = AssertSplitInvariant(UserPass, backend);

        Assert.Equal(MailBackendStep.Failed, run.Step);
        Assert.Equal(reason, run.Reason);
        Assert.Equal("", run.ToClient);
    }
}
