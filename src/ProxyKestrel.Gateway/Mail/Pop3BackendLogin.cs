using System.Buffers;
using System.Text;

namespace ProxyKestrel.Gateway.Mail;

/// <summary>Replays a POP3 login: USER then PASS for a USER login, AUTH PLAIN with an initial response otherwise.</summary>
internal sealed class Pop3BackendLogin : MailBackendLogin
{
    private Stage _stage;

    public Pop3BackendLogin(MailLogin login)
        : base(login)
    {
    }

    private enum Stage
    {
        Greeting,
        User,
        Final,
    }

    private protected override MailBackendStep OnLine(byte[] line, IBufferWriter<byte> toBackend, out string? reason)
    {
        reason = null;
        bool ok = IsWord(line, "+OK"u8);
        switch (_stage)
        {
            case Stage.Greeting when ok:
                byte[] user = Encoding.UTF8.GetBytes(Login.User);
                if (Login.Method == MailLogin.MethodUser && !Login.HasAuthorizationId && FitsOnLine(user) && FitsOnLine(Login.Password.Span))
                {
                    toBackend.Write("USER "u8);
                    MailLines.Write(toBackend, user);
                    _stage = Stage.User;
                }
                else
                {
                    toBackend.Write("AUTH PLAIN "u8);
                    MailLines.Write(toBackend, MailSaslPlain.Encode(Login));
                    _stage = Stage.Final;
                }

                return MailBackendStep.NeedMore;
            case Stage.User when ok:
                toBackend.Write("PASS "u8);
                MailLines.Write(toBackend, Login.Password.Span);
                _stage = Stage.Final;
                return MailBackendStep.NeedMore;
            case Stage.Final when ok:
                ForClient(line);
                return MailBackendStep.LoggedIn;
            case Stage.User or Stage.Final when IsWord(line, "-ERR"u8):
                ForClient(line);
                return MailBackendStep.Rejected;
            default:
                reason = _stage == Stage.Greeting
                    ? $"the backend greeted with \"{MailLines.Describe(line)}\""
                    : $"the backend answered the login with \"{MailLines.Describe(line)}\"";
                return MailBackendStep.Failed;
        }
    }
}
