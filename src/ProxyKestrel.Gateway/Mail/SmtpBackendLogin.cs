using System.Buffers;
using System.Text;

namespace ProxyKestrel.Gateway.Mail;

/// <summary>
/// Replays an SMTP login: after the 220 greeting EHLO with the client's name, after its 250 AUTH PLAIN with an initial
/// response (for AUTH LOGIN logins too). Multi-line replies ("250-") are read whole.
/// </summary>
internal sealed class SmtpBackendLogin : MailBackendLogin
{
    private readonly string _ehloName;
    private readonly List<byte[]> _reply = [];
    private int _replyCode;
    private Stage _stage;

    public SmtpBackendLogin(MailLogin login, string serverName)
        : base(login) => _ehloName = login.HeloName ?? serverName;

    private enum Stage
    {
        Greeting,
        Ehlo,
        Auth,
    }

    private protected override MailBackendStep OnLine(byte[] line, IBufferWriter<byte> toBackend, out string? reason)
    {
        reason = null;
        if (!TryParseReplyLine(line, out int code, out bool last) || (_reply.Count > 0 && code != _replyCode))
        {
            reason = $"the backend sent \"{MailLines.Describe(line)}\", not an SMTP reply";
            return MailBackendStep.Failed;
        }

        _replyCode = code;
        _reply.Add(line);
        if (!last)
        {
            return MailBackendStep.NeedMore;
        }

        switch (_stage)
        {
            case Stage.Greeting when code == 220:
                MailLines.Write(toBackend, Encoding.UTF8.GetBytes($"EHLO {_ehloName}"));
                _stage = Stage.Ehlo;
                break;
            case Stage.Ehlo when code == 250:
                toBackend.Write("AUTH PLAIN "u8);
                MailLines.Write(toBackend, MailSaslPlain.Encode(Login));
                _stage = Stage.Auth;
                break;
            case Stage.Auth when code is 235 or (>= 400 and < 600):
                foreach (byte[] replyLine in _reply)
                {
                    ForClient(replyLine);
                }

                return code == 235 ? MailBackendStep.LoggedIn : MailBackendStep.Rejected;
            default:
                string what = _stage switch
                {
                    Stage.Greeting => "greeted with",
                    Stage.Ehlo => "answered EHLO with",
                    _ => "answered AUTH with",
                };
                reason = $"the backend {what} \"{MailLines.Describe(line)}\"";
                return MailBackendStep.Failed;
        }

        _reply.Clear();
        return MailBackendStep.NeedMore;
    }

    /// <summary>"ddd", "ddd text" or "ddd-text" (RFC 5321 §4.2): the code, and whether the reply ends with this line.</summary>
    private static bool TryParseReplyLine(ReadOnlySpan<byte> line, out int code, out bool last)
    {
        code = 0;
        last = true;
        if (line.Length < 3 || line[0] is < (byte)'2' or > (byte)'5' || !char.IsAsciiDigit((char)line[1]) || !char.IsAsciiDigit((char)line[2]))
        {
            return false;
        }

        code = (line[0] - '0') * 100 + (line[1] - '0') * 10 + (line[2] - '0');
        if (line.Length == 3)
        {
            return true;
        }

        last = line[3] == (byte)' ';
        return last || line[3] == (byte)'-';
    }
}
