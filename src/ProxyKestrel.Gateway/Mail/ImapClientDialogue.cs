using System.Buffers;
using System.Text;

namespace ProxyKestrel.Gateway.Mail;

/// <summary>
/// The gateway's IMAP side before login (RFC 9051 / RFC 3501 not-authenticated state): CAPABILITY, NOOP, ID, LOGOUT,
/// STARTTLS, LOGIN with atoms, quoted strings and literals, AUTHENTICATE PLAIN with SASL-IR (RFC 4959) or a
/// continuation.
/// </summary>
internal sealed class ImapClientDialogue : MailClientDialogue
{
    private readonly List<ImapToken> _tokens = [];
    private long _commandBytes;
    private bool _commandBad;
    private long _literal = -1;
    private string? _authenticateTag;

    public ImapClientDialogue(MailDialogueOptions options)
        : base(options)
    {
    }

    /// <inheritdoc/>
    public override void WriteGreeting(IBufferWriter<byte> reply)
    {
        ArgumentNullException.ThrowIfNull(reply);
        MailLines.Write(reply, $"* OK [CAPABILITY {Capabilities()}] {Options.ServerName} ready.");
    }

    private protected override MailClientStep? Next(ref ReadOnlySequence<byte> input, IBufferWriter<byte> reply, out MailLogin? login)
    {
        login = null;
        byte[] line;
        MailClientStep? step;
        if (_authenticateTag is { } tag)
        {
            if ((step = ReadLine(ref input, reply, out line)) is not null)
            {
                return step;
            }

            _authenticateTag = null;
            return SaslResponse(tag, line, reply, out login);
        }

        if (_literal >= 0)
        {
            if (input.Length < _literal)
            {
                return MailClientStep.NeedMore;
            }

            _tokens.Add(new ImapToken(input.Slice(0, _literal).ToArray(), IsAtom: false));
            input = input.Slice(_literal);
            _literal = -1;
            return null;
        }

        if ((step = ReadLine(ref input, reply, out line)) is not null)
        {
            return step;
        }

        _commandBytes += line.Length;
        long literal = ImapTokenizer.TrailingLiteral(line, out bool nonSynchronizing, out ReadOnlySpan<byte> text);
        if (!_commandBad && !ImapTokenizer.Tokenize(text, _tokens))
        {
            _commandBad = true;
        }

        if (literal >= 0)
        {
            // Each literal is bounded like a line, and a command's lines and literals together by four of them.
            if (literal > Options.MaxLineLength || _commandBytes + literal > 4L * Options.MaxLineLength)
            {
                WriteTooLong(reply);
                ClosedForViolation = true;
                return MailClientStep.Close;
            }

            _commandBytes += literal;
            _literal = literal;
            if (!nonSynchronizing)
            {
                MailLines.Write(reply, "+ OK");
            }

            return null;
        }

        ImapToken[] tokens = [.. _tokens];
        bool bad = _commandBad;
        _tokens.Clear();
        _commandBad = false;
        _commandBytes = 0;
        return Execute(tokens, bad, reply, out login);
    }

    private protected override void OnTlsStarted()
    {
        _tokens.Clear();
        _commandBad = false;
        _commandBytes = 0;
        _literal = -1;
        _authenticateTag = null;
    }

    private protected override void WriteLoginAnswer(IBufferWriter<byte> reply, MailLogin login, string text, bool temporary, string? smtpCode) =>
        MailLines.Write(reply, $"{login.Tag ?? "*"} NO [{(temporary ? "UNAVAILABLE" : "AUTHENTICATIONFAILED")}] {text}");

    private protected override void WriteTooLong(IBufferWriter<byte> reply) => MailLines.Write(reply, "* BYE Line too long");

    private protected override void WriteTooManyInvalid(IBufferWriter<byte> reply) =>
        MailLines.Write(reply, "* BYE Too many invalid commands");

    private string Capabilities()
    {
        var capabilities = new StringBuilder("IMAP4rev1 SASL-IR LITERAL+ ID ENABLE");
        if (StartTlsOffered)
        {
            capabilities.Append(" STARTTLS");
        }

        // RFC 9051 §6.2.2 / RFC 3501 §7.2.1: no PLAIN in the clear; LOGINDISABLED when LOGIN would be refused.
        capabilities.Append(PlaintextAllowed ? " AUTH=PLAIN" : " LOGINDISABLED");
        return capabilities.ToString();
    }

    private MailClientStep? Execute(ImapToken[] tokens, bool bad, IBufferWriter<byte> reply, out MailLogin? login)
    {
        login = null;
        if (tokens.Length == 0 || !tokens[0].IsAtom || !ImapTokenizer.IsValidTag(tokens[0].Value))
        {
            return Invalid(reply, "* BAD Invalid tag");
        }

        string tag = Encoding.ASCII.GetString(tokens[0].Value);
        if (bad)
        {
            return Invalid(reply, $"{tag} BAD Syntax error");
        }

        if (tokens.Length < 2 || !tokens[1].IsAtom)
        {
            return Invalid(reply, $"{tag} BAD Missing command");
        }

        ImapToken[] args = tokens[2..];
        switch (Encoding.ASCII.GetString(tokens[1].Value).ToUpperInvariant())
        {
            case "CAPABILITY" when args.Length == 0:
                MailLines.Write(reply, $"* CAPABILITY {Capabilities()}");
                MailLines.Write(reply, $"{tag} OK CAPABILITY completed");
                return null;
            case "NOOP" when args.Length == 0:
                MailLines.Write(reply, $"{tag} OK NOOP completed");
                return null;
            case "ID" when args.Length > 0:
                MailLines.Write(reply, "* ID NIL");
                MailLines.Write(reply, $"{tag} OK ID completed");
                return null;
            case "LOGOUT" when args.Length == 0:
                MailLines.Write(reply, $"* BYE {Options.ServerName} logging out");
                MailLines.Write(reply, $"{tag} OK LOGOUT completed");
                return MailClientStep.Close;
            case "STARTTLS" when args.Length == 0:
                if (!StartTlsOffered)
                {
                    return Invalid(reply, $"{tag} BAD {(TlsActive ? "TLS is already active" : "STARTTLS is not available")}");
                }

                MailLines.Write(reply, $"{tag} OK Begin TLS negotiation now");
                return MailClientStep.StartTls;
            case "LOGIN" when args.Length == 2:
                return Login(tag, args[0].Value, args[1].Value, reply, out login);
            case "AUTHENTICATE" when args.Length is 1 or 2:
                return Authenticate(tag, args, reply, out login);
            default:
                return Invalid(reply, $"{tag} BAD Unknown command or wrong arguments");
        }
    }

    private MailClientStep? Login(string tag, byte[] user, byte[] password, IBufferWriter<byte> reply, out MailLogin? login)
    {
        login = null;
        if (!PlaintextAllowed)
        {
            return Invalid(reply, $"{tag} NO [PRIVACYREQUIRED] LOGIN is not allowed without TLS");
        }

        string? name = MailLines.Utf8OrNull(user);
        if (string.IsNullOrEmpty(name) || user.AsSpan().IndexOf((byte)0) >= 0 || password.Length == 0 || password.AsSpan().IndexOf((byte)0) >= 0)
        {
            return Invalid(reply, $"{tag} BAD Invalid user name or password");
        }

        login = new MailLogin { Protocol = MailProtocol.Imap, User = name, Method = MailLogin.MethodLogin, Password = password, Tag = tag };
        return MailClientStep.Login;
    }

    private MailClientStep? Authenticate(string tag, ImapToken[] args, IBufferWriter<byte> reply, out MailLogin? login)
    {
        login = null;
        if (!Encoding.ASCII.GetString(args[0].Value).Equals(MailLogin.MethodPlain, StringComparison.OrdinalIgnoreCase))
        {
            return Invalid(reply, $"{tag} NO Unsupported authentication mechanism");
        }

        if (!PlaintextAllowed)
        {
            return Invalid(reply, $"{tag} NO [PRIVACYREQUIRED] AUTHENTICATE PLAIN is not allowed without TLS");
        }

        if (args.Length == 2)
        {
            return SaslResponse(tag, args[1].Value, reply, out login);
        }

        MailLines.Write(reply, "+ ");
        _authenticateTag = tag;
        return null;
    }

    private MailClientStep? SaslResponse(string tag, byte[] response, IBufferWriter<byte> reply, out MailLogin? login)
    {
        login = null;
        if (response.AsSpan().SequenceEqual("*"u8))
        {
            MailLines.Write(reply, $"{tag} BAD Authentication cancelled");
            return null;
        }

        if (!MailSaslPlain.TryDecode(response, out byte[]? authorizationId, out string user, out byte[] password))
        {
            return Invalid(reply, $"{tag} BAD Invalid SASL PLAIN response");
        }

        login = new MailLogin
        {
            Protocol = MailProtocol.Imap,
            User = user,
            Method = MailLogin.MethodPlain,
            Password = password,
            AuthorizationId = MailLogin.Optional(authorizationId),
            Tag = tag,
        };
        return MailClientStep.Login;
    }
}
