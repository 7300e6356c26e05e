using System.Buffers;

namespace ProxyKestrel.Gateway.Mail;

/// <summary>
/// The gateway's POP3 side in the AUTHORIZATION state (RFC 1939): CAPA (RFC 2449), USER / PASS, AUTH PLAIN with an
/// initial response or a continuation (RFC 5034), STLS (RFC 2595), QUIT.
/// </summary>
internal sealed class Pop3ClientDialogue : MailClientDialogue
{
    private string? _user;
    private bool _awaitingSaslResponse;

    public Pop3ClientDialogue(MailDialogueOptions options)
        : base(options)
    {
    }

    /// <inheritdoc/>
    public override void WriteGreeting(IBufferWriter<byte> reply)
    {
        ArgumentNullException.ThrowIfNull(reply);
        MailLines.Write(reply, $"+OK {Options.ServerName} ready.");
    }

    private protected override MailClientStep? Next(ref ReadOnlySequence<byte> input, IBufferWriter<byte> reply, out MailLogin? login)
    {
        login = null;
        if (ReadLine(ref input, reply, out byte[] line) is { } step)
        {
            return step;
        }

        if (MailLines.HasForbiddenControl(line))
        {
            _awaitingSaslResponse = false;
            return Invalid(reply, "-ERR Invalid characters in command");
        }

        if (_awaitingSaslResponse)
        {
            _awaitingSaslResponse = false;
            return SaslResponse(line, reply, out login);
        }

        string verb = MailLines.Verb(line, out ReadOnlySpan<byte> rest, out bool hasRest);
        switch (verb)
        {
            case "CAPA" when !hasRest:
                MailLines.Write(reply, "+OK Capability list follows");
                if (PlaintextAllowed)
                {
                    MailLines.Write(reply, "USER");
                    MailLines.Write(reply, "SASL PLAIN");
                }

                if (StartTlsOffered)
                {
                    MailLines.Write(reply, "STLS");
                }

                MailLines.Write(reply, "RESP-CODES");
                MailLines.Write(reply, "AUTH-RESP-CODE");
                MailLines.Write(reply, ".");
                return null;
            case "USER" when hasRest && !rest.IsEmpty:
                if (!PlaintextAllowed)
                {
                    return Invalid(reply, "-ERR [AUTH] Plaintext authentication is not allowed without TLS");
                }

                string? user = MailLines.Utf8OrNull(rest);
                if (string.IsNullOrEmpty(user))
                {
                    return Invalid(reply, "-ERR Invalid user name");
                }

                _user = user;
                MailLines.Write(reply, "+OK Send your password");
                return null;
            case "PASS" when hasRest && !rest.IsEmpty:
                if (_user is not { } name)
                {
                    return Invalid(reply, "-ERR USER first");
                }

                _user = null;
                login = new MailLogin { Protocol = MailProtocol.Pop3, User = name, Method = MailLogin.MethodUser, Password = rest.ToArray() };
                return MailClientStep.Login;
            case "AUTH":
                return Auth(hasRest ? rest : default, hasRest, reply, out login);
            case "STLS" when !hasRest:
                if (!StartTlsOffered)
                {
                    return Invalid(reply, TlsActive ? "-ERR TLS is already active" : "-ERR STLS is not available");
                }

                MailLines.Write(reply, "+OK Begin TLS negotiation");
                return MailClientStep.StartTls;
            case "QUIT" when !hasRest:
                MailLines.Write(reply, $"+OK {Options.ServerName} signing off");
                return MailClientStep.Close;
            default:
                return Invalid(reply, "-ERR Unknown command or wrong arguments");
        }
    }

    private protected override void OnTlsStarted()
    {
        _user = null;
        _awaitingSaslResponse = false;
    }

    private protected override void WriteLoginAnswer(IBufferWriter<byte> reply, MailLogin login, string text, bool temporary, string? smtpCode) =>
        MailLines.Write(reply, $"-ERR [{(temporary ? "SYS/TEMP" : "AUTH")}] {text}");

    private protected override void WriteTooLong(IBufferWriter<byte> reply) => MailLines.Write(reply, "-ERR Line too long");

    private protected override void WriteTooManyInvalid(IBufferWriter<byte> reply) =>
        MailLines.Write(reply, "-ERR Too many invalid commands");

    private MailClientStep? Auth(ReadOnlySpan<byte> arguments, bool hasArguments, IBufferWriter<byte> reply, out MailLogin? login)
    {
        login = null;
        if (!hasArguments)
        {
            // RFC 5034 §4 allows the list of mechanisms for a bare AUTH.
            MailLines.Write(reply, "+OK");
            if (PlaintextAllowed)
            {
                MailLines.Write(reply, MailLogin.MethodPlain);
            }

            MailLines.Write(reply, ".");
            return null;
        }

        string mechanism = MailLines.Verb(arguments, out ReadOnlySpan<byte> initialResponse, out bool hasInitialResponse);
        if (mechanism != MailLogin.MethodPlain || (hasInitialResponse && initialResponse.IndexOf((byte)' ') >= 0))
        {
            return Invalid(reply, "-ERR Unsupported mechanism or wrong arguments");
        }

        if (!PlaintextAllowed)
        {
            return Invalid(reply, "-ERR [AUTH] Plaintext authentication is not allowed without TLS");
        }

        if (hasInitialResponse)
        {
            return SaslResponse(initialResponse.ToArray(), reply, out login);
        }

        MailLines.Write(reply, "+ ");
        _awaitingSaslResponse = true;
        return null;
    }

    private MailClientStep? SaslResponse(byte[] response, IBufferWriter<byte> reply, out MailLogin? login)
    {
        login = null;
        if (response.AsSpan().SequenceEqual("*"u8))
        {
            MailLines.Write(reply, "-ERR Authentication cancelled");
            return null;
        }

        if (!MailSaslPlain.TryDecode(response, out byte[]? authorizationId, out string user, out byte[] password))
        {
            return Invalid(reply, "-ERR Invalid SASL PLAIN response");
        }

        login = new MailLogin
        {
            Protocol = MailProtocol.Pop3,
            User = user,
            Method = MailLogin.MethodPlain,
            Password = password,
            AuthorizationId = MailLogin.Optional(authorizationId),
        };
        return MailClientStep.Login;
    }
}
