using System.Buffers;
using System.Text;

namespace ProxyKestrel.Gateway.Mail;

/// <summary>
/// The gateway's SMTP submission side before AUTH (RFC 5321, RFC 4954): EHLO / HELO, NOOP, RSET, STARTTLS (RFC 3207),
/// AUTH PLAIN and AUTH LOGIN with or without an initial response, QUIT; mail transactions need AUTH first.
/// </summary>
internal sealed partial class SmtpClientDialogue : MailClientDialogue
{
    private const string Username64 = "VXNlcm5hbWU6";
    private const string Password64 = "UGFzc3dvcmQ6";

    private bool _extended;
    private string? _heloName;
    private AuthStage _stage;
    private string? _authLoginUser;

    public SmtpClientDialogue(MailDialogueOptions options)
        : base(options)
    {
    }

    private enum AuthStage
    {
        None,
        PlainResponse,
        LoginUser,
        LoginPassword,
    }

    /// <inheritdoc/>
    public override void WriteGreeting(IBufferWriter<byte> reply)
    {
        ArgumentNullException.ThrowIfNull(reply);
        MailLines.Write(reply, $"220 {Options.ServerName} ESMTP ready");
    }

    private protected override MailClientStep? Next(ref ReadOnlySequence<byte> input, IBufferWriter<byte> reply, out MailLogin? login)
    {
        login = null;
        if (ReadLine(ref input, reply, out byte[] line) is { } step)
        {
            return step;
        }

        AuthStage stage = _stage;
        _stage = AuthStage.None;
        if (MailLines.HasForbiddenControl(line))
        {
            return Invalid(reply, "500 5.5.2 Invalid characters in command");
        }

        if (stage != AuthStage.None)
        {
            return AuthResponse(stage, line, reply, out login);
        }

        string verb = MailLines.Verb(line, out ReadOnlySpan<byte> rest, out _);
        string argument = Encoding.UTF8.GetString(rest).Trim();
        switch (verb)
        {
            case "EHLO" or "HELO" when argument.Length > 0 && argument.IndexOf(' ') < 0:
                _extended = verb == "EHLO";
                _heloName = argument;
                if (!_extended)
                {
                    MailLines.Write(reply, $"250 {Options.ServerName}");
                    return null;
                }

                MailLines.Write(reply, $"250-{Options.ServerName}");
                if (StartTlsOffered)
                {
                    MailLines.Write(reply, "250-STARTTLS");
                }

                if (PlaintextAllowed)
                {
                    MailLines.Write(reply, "250-AUTH PLAIN LOGIN");
                }

                MailLines.Write(reply, "250-ENHANCEDSTATUSCODES");
                MailLines.Write(reply, "250 8BITMIME");
                return null;
            case "EHLO" or "HELO":
                return Invalid(reply, $"501 5.5.4 Syntax: {verb} hostname");
            case "NOOP" or "RSET":
                MailLines.Write(reply, "250 2.0.0 OK");
                return null;
            case "AUTH":
                return Auth(argument, reply, out login);
            case "STARTTLS" when argument.Length == 0:
                if (!StartTlsOffered)
                {
                    return Invalid(reply, TlsActive ? "503 5.5.1 TLS already active" : "502 5.5.1 STARTTLS not available");
                }

                MailLines.Write(reply, "220 2.0.0 Ready to start TLS");
                return MailClientStep.StartTls;
            case "QUIT":
                MailLines.Write(reply, "221 2.0.0 Bye");
                return MailClientStep.Close;
            case "MAIL" or "RCPT" or "DATA" or "BDAT":
                return Invalid(reply, "530 5.7.0 Authentication required");
            case "":
                return Invalid(reply, "500 5.5.2 Syntax error");
            default:
                return Invalid(reply, "502 5.5.2 Command not recognized");
        }
    }

    private protected override void OnTlsStarted()
    {
        // RFC 3207 §4.2: the server forgets everything; the client starts with EHLO again.
        _extended = false;
        _heloName = null;
        _stage = AuthStage.None;
        _authLoginUser = null;
    }

    private protected override void WriteLoginAnswer(IBufferWriter<byte> reply, MailLogin login, string text, bool temporary, string? smtpCode) =>
        MailLines.Write(reply, $"{(IsReplyCode(smtpCode, temporary) ? smtpCode : temporary ? "454 4.7.0" : "535 5.7.8")} {text}");

    /// <summary>
    /// A reply code an auth script may give (<c>Auth-Error-Code</c>): a 4xx for a temporary failure, a 5xx for a
    /// refusal, optionally with an enhanced status code of the same class; anything else is not used.
    /// </summary>
    private static bool IsReplyCode([System.Diagnostics.CodeAnalysis.NotNullWhen(true)] string? code, bool temporary) =>
        code is not null && ReplyCode().IsMatch(code) && code[0] == (temporary ? '4' : '5') && (code.Length == 3 || code[4] == code[0]);

    [System.Text.RegularExpressions.GeneratedRegex(@"^[45][0-9]{2}( [45]\.[0-9]{1,3}\.[0-9]{1,3})?$", System.Text.RegularExpressions.RegexOptions.CultureInvariant)]
    private static partial System.Text.RegularExpressions.Regex ReplyCode();

    private protected override void WriteTooLong(IBufferWriter<byte> reply) => MailLines.Write(reply, "500 5.5.6 Line too long");

    private protected override void WriteTooManyInvalid(IBufferWriter<byte> reply) =>
        MailLines.Write(reply, $"421 4.7.0 {Options.ServerName} Too many invalid commands, closing connection");

    private MailClientStep? Auth(string argument, IBufferWriter<byte> reply, out MailLogin? login)
    {
        login = null;
        if (!_extended)
        {
            return Invalid(reply, "503 5.5.1 EHLO first");
        }

        string[] parts = argument.Split(' ', StringSplitOptions.RemoveEmptyEntries);
        if (parts.Length is 0 or > 2)
        {
            return Invalid(reply, "501 5.5.4 Syntax: AUTH mechanism [initial-response]");
        }

        string mechanism = parts[0].ToUpperInvariant();
        if (mechanism is not (MailLogin.MethodPlain or MailLogin.MethodLogin))
        {
            return Invalid(reply, "504 5.5.4 Unrecognized authentication type");
        }

        if (!PlaintextAllowed)
        {
            return Invalid(reply, "538 5.7.11 Encryption required");
        }

        AuthStage stage = mechanism == MailLogin.MethodPlain ? AuthStage.PlainResponse : AuthStage.LoginUser;
        if (parts.Length == 2)
        {
            return AuthResponse(stage, Encoding.UTF8.GetBytes(parts[1]), reply, out login);
        }

        MailLines.Write(reply, stage == AuthStage.PlainResponse ? "334 " : $"334 {Username64}");
        _stage = stage;
        return null;
    }

    private MailClientStep? AuthResponse(AuthStage stage, byte[] response, IBufferWriter<byte> reply, out MailLogin? login)
    {
        login = null;
        if (response.AsSpan().SequenceEqual("*"u8))
        {
            _authLoginUser = null;
            MailLines.Write(reply, "501 5.7.0 Authentication cancelled");
            return null;
        }

        if (stage == AuthStage.PlainResponse)
        {
            if (!MailSaslPlain.TryDecode(response, out byte[]? authorizationId, out string user, out byte[] password))
            {
                return Invalid(reply, "501 5.5.2 Invalid SASL PLAIN response");
            }

            login = NewLogin(user, MailLogin.MethodPlain, password, authorizationId);
            return MailClientStep.Login;
        }

        if (!MailSaslPlain.TryDecodeBase64(response, out byte[] value) || value.Length == 0 || value.AsSpan().IndexOf((byte)0) >= 0)
        {
            _authLoginUser = null;
            return Invalid(reply, "501 5.5.2 Invalid AUTH LOGIN response");
        }

        if (stage == AuthStage.LoginUser)
        {
            _authLoginUser = MailLines.Utf8OrNull(value);
            if (_authLoginUser is null)
            {
                return Invalid(reply, "501 5.5.2 Invalid AUTH LOGIN response");
            }

            MailLines.Write(reply, $"334 {Password64}");
            _stage = AuthStage.LoginPassword;
            return null;
        }

        string name = _authLoginUser!;
        _authLoginUser = null;
        login = NewLogin(name, MailLogin.MethodAuthLogin, value, authorizationId: null);
        return MailClientStep.Login;
    }

    private MailLogin NewLogin(string user, string method, byte[] password, byte[]? authorizationId) => new()
    {
        Protocol = MailProtocol.Smtp,
        User = user,
        Method = method,
        Password = password,
        AuthorizationId = MailLogin.Optional(authorizationId),
        HeloName = _heloName,
    };
}
