using System.Buffers;
using System.Text;

namespace ProxyKestrel.Gateway.Mail;

/// <summary>
/// Replays an IMAP login with the client's tag: LOGIN with quoted strings when user and password are 7-bit without
/// CR or LF (and no authorization identity), otherwise (and always for PLAIN) AUTHENTICATE PLAIN with SASL-IR.
/// </summary>
internal sealed class ImapBackendLogin : MailBackendLogin
{
    private readonly byte[] _tag;
    private bool _greeted;

    public ImapBackendLogin(MailLogin login)
        : base(login) => _tag = Encoding.ASCII.GetBytes(login.Tag ?? "A1");

    /// <summary>The login command for <paramref name="login"/>, without CRLF.</summary>
    public static byte[] Command(MailLogin login)
    {
        ArgumentNullException.ThrowIfNull(login);
        var command = new ArrayBufferWriter<byte>();
        command.Write(Encoding.ASCII.GetBytes(login.Tag ?? "A1"));
        byte[] user = Encoding.UTF8.GetBytes(login.User);
        if (login.Method != MailLogin.MethodPlain && !login.HasAuthorizationId && IsQuotable(user) && IsQuotable(login.Password.Span))
        {
            command.Write(" LOGIN "u8);
            WriteQuoted(command, user);
            command.Write(" "u8);
            WriteQuoted(command, login.Password.Span);
        }
        else
        {
            command.Write(" AUTHENTICATE PLAIN "u8);
            command.Write(MailSaslPlain.Encode(login));
        }

        return command.WrittenSpan.ToArray();
    }

    private protected override MailBackendStep OnLine(byte[] line, IBufferWriter<byte> toBackend, out string? reason)
    {
        reason = null;
        if (!_greeted)
        {
            if (IsWord(line, "* OK"u8))
            {
                _greeted = true;
                MailLines.Write(toBackend, Command(Login));
                return MailBackendStep.NeedMore;
            }

            reason = $"the backend greeted with \"{MailLines.Describe(line)}\"";
            return MailBackendStep.Failed;
        }

        if (IsWord(line, "* BYE"u8) || !line.AsSpan().StartsWith("* "u8))
        {
            if (line.AsSpan().StartsWith(_tag) && line.Length > _tag.Length && line[_tag.Length] == (byte)' ')
            {
                return Tagged(line, ref reason);
            }

            reason = $"the backend answered the login with \"{MailLines.Describe(line)}\"";
            return MailBackendStep.Failed;
        }

        ForClient(line);
        return MailBackendStep.NeedMore;
    }

    private static bool IsQuotable(ReadOnlySpan<byte> value)
    {
        foreach (byte b in value)
        {
            if (b is 0 or (byte)'\r' or (byte)'\n' or >= 0x80)
            {
                return false;
            }
        }

        return true;
    }

    private static void WriteQuoted(IBufferWriter<byte> writer, ReadOnlySpan<byte> value)
    {
        writer.Write("\""u8);
        foreach (byte b in value)
        {
            if (b is (byte)'"' or (byte)'\\')
            {
                writer.Write("\\"u8);
            }

            writer.Write([b]);
        }

        writer.Write("\""u8);
    }

    private MailBackendStep Tagged(byte[] line, ref string? reason)
    {
        ReadOnlySpan<byte> status = line.AsSpan(_tag.Length + 1);
        if (IsWord(status, "OK"u8))
        {
            ForClient(line);
            return MailBackendStep.LoggedIn;
        }

        if (IsWord(status, "NO"u8) || IsWord(status, "BAD"u8))
        {
            ForClient(line);
            return MailBackendStep.Rejected;
        }

        reason = $"the backend answered the login with \"{MailLines.Describe(line)}\"";
        return MailBackendStep.Failed;
    }
}
