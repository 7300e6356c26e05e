using System.Buffers;

namespace ProxyKestrel.Gateway.Mail;

/// <summary>
/// The gateway's own side of a mail dialogue with a client, without transport: it greets, answers capability
/// commands, STARTTLS and logout, and reads the login. The caller then picks the backend from
/// <see cref="MailLogin.User"/> and replays the login there with <see cref="MailBackendLogin"/>.
/// </summary>
internal abstract class MailClientDialogue
{
    private int _invalidCommands;
    private bool _loginOutstanding;
    private bool _startTlsOutstanding;
    private bool _closed;

    private protected MailClientDialogue(MailDialogueOptions options)
    {
        Options = options;
        TlsActive = options.TlsActive;
    }

    /// <summary>The options the dialogue was created with.</summary>
    public MailDialogueOptions Options { get; }

    /// <summary>
    /// The dialogue closed because the client broke the rules (a line too long, too many bad commands), not because it
    /// quit or went away.
    /// </summary>
    public bool ClosedForViolation { get; private protected set; }

    /// <summary>The connection is encrypted: from the options, or since <see cref="TlsStarted"/>.</summary>
    public bool TlsActive { get; private set; }

    /// <summary>Credentials may be accepted now.</summary>
    private protected bool PlaintextAllowed => Options.AllowPlaintextLogin || TlsActive;

    /// <summary>STARTTLS / STLS is offered now.</summary>
    private protected bool StartTlsOffered => Options.TlsAvailable && !TlsActive;

    /// <summary>The dialogue for <paramref name="protocol"/>.</summary>
    public static MailClientDialogue Create(MailProtocol protocol, MailDialogueOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        return protocol switch
        {
            MailProtocol.Imap => new ImapClientDialogue(options),
            MailProtocol.Pop3 => new Pop3ClientDialogue(options),
            MailProtocol.Smtp => new SmtpClientDialogue(options),
            _ => throw new ArgumentOutOfRangeException(nameof(protocol), protocol, "Unknown mail protocol."),
        };
    }

    /// <summary>Writes the server greeting, the first thing the client reads.</summary>
    public abstract void WriteGreeting(IBufferWriter<byte> reply);

    /// <summary>
    /// Consumes complete commands from <paramref name="input"/> (advancing it past what was handled) and writes every
    /// reply into <paramref name="reply"/>. After <see cref="MailClientStep.StartTls"/> anything left in
    /// <paramref name="input"/> arrived before the handshake and must be discarded, not read after it (RFC 3207 §6).
    /// With <paramref name="inputEnded"/> an incomplete command ends the dialogue (<see cref="MailClientStep.Close"/>).
    /// </summary>
    public MailClientStep Process(ref ReadOnlySequence<byte> input, bool inputEnded, IBufferWriter<byte> reply, out MailLogin? login)
    {
        ArgumentNullException.ThrowIfNull(reply);
        if (_closed || _loginOutstanding || _startTlsOutstanding)
        {
            throw new InvalidOperationException(_closed ? "The dialogue is closed." : _loginOutstanding
                ? "A login is outstanding: answer it with WriteTemporaryFailure or WriteLoginRejected first."
                : "STARTTLS is outstanding: call TlsStarted first.");
        }

        while (true)
        {
            MailClientStep? step = Next(ref input, reply, out login);
            switch (step)
            {
                case null:
                    continue;
                case MailClientStep.NeedMore when !inputEnded:
                    return MailClientStep.NeedMore;
                case MailClientStep.NeedMore or MailClientStep.Close:
                    _closed = true;
                    login = null;
                    return MailClientStep.Close;
                case MailClientStep.Login:
                    _loginOutstanding = true;
                    return MailClientStep.Login;
                default:
                    _startTlsOutstanding = true;
                    return MailClientStep.StartTls;
            }
        }
    }

    /// <summary>The TLS handshake after <see cref="MailClientStep.StartTls"/> succeeded; the dialogue starts over as the RFCs say.</summary>
    public void TlsStarted()
    {
        if (!_startTlsOutstanding)
        {
            throw new InvalidOperationException("TlsStarted without a STARTTLS step.");
        }

        _startTlsOutstanding = false;
        TlsActive = true;
        OnTlsStarted();
    }

    /// <summary>Answers the outstanding <paramref name="login"/>: no backend could take it now. The client may try again.</summary>
    public void WriteTemporaryFailure(IBufferWriter<byte> reply, MailLogin login, string text, string? smtpCode = null) =>
        Answer(reply, login, text, temporary: true, smtpCode);

    /// <summary>Answers the outstanding <paramref name="login"/>: the credentials are refused. The dialogue waits for a login again.</summary>
    public void WriteLoginRejected(IBufferWriter<byte> reply, MailLogin login, string text, string? smtpCode = null) =>
        Answer(reply, login, text, temporary: false, smtpCode);

    /// <summary>
    /// The outstanding login was answered by the backend (its refusal passed on to the client as it said it): the
    /// dialogue waits for a login again.
    /// </summary>
    public void LoginAnswered()
    {
        if (!_loginOutstanding)
        {
            throw new InvalidOperationException("No login is outstanding.");
        }

        _loginOutstanding = false;
    }

    /// <summary>Handles at most one command: null to go on, NeedMore, or the step to return.</summary>
    private protected abstract MailClientStep? Next(ref ReadOnlySequence<byte> input, IBufferWriter<byte> reply, out MailLogin? login);

    /// <summary>Resets what STARTTLS resets in this protocol.</summary>
    private protected abstract void OnTlsStarted();

    /// <summary>Writes the protocol's line for a temporary failure or a rejected login.</summary>
    /// <remarks><paramref name="smtpCode"/>: an SMTP reply code (<c>535 5.7.0</c>) to use instead of the default; IMAP and POP3 have none.</remarks>
    private protected abstract void WriteLoginAnswer(IBufferWriter<byte> reply, MailLogin login, string text, bool temporary, string? smtpCode);

    /// <summary>Writes the reply for a line or literal over <see cref="MailDialogueOptions.MaxLineLength"/>.</summary>
    private protected abstract void WriteTooLong(IBufferWriter<byte> reply);

    /// <summary>Writes the closing line after the last allowed error reply.</summary>
    private protected abstract void WriteTooManyInvalid(IBufferWriter<byte> reply);

    /// <summary>Reads one command line: null with the line, or NeedMore, or Close after the too-long reply.</summary>
    private protected MailClientStep? ReadLine(ref ReadOnlySequence<byte> input, IBufferWriter<byte> reply, out byte[] line)
    {
        switch (MailLines.TryReadLine(ref input, Options.MaxLineLength, out line))
        {
            case MailLineStatus.Line:
                return null;
            case MailLineStatus.Incomplete:
                return MailClientStep.NeedMore;
            default:
                WriteTooLong(reply);
                ClosedForViolation = true;
                return MailClientStep.Close;
        }
    }

    /// <summary>Writes an error reply and counts it; Close once there were too many.</summary>
    private protected MailClientStep? Invalid(IBufferWriter<byte> reply, string text)
    {
        MailLines.Write(reply, text);
        if (++_invalidCommands < Options.MaxInvalidCommands)
        {
            return null;
        }

        WriteTooManyInvalid(reply);
        ClosedForViolation = true;
        return MailClientStep.Close;
    }

    private void Answer(IBufferWriter<byte> reply, MailLogin login, string text, bool temporary, string? smtpCode)
    {
        ArgumentNullException.ThrowIfNull(reply);
        ArgumentNullException.ThrowIfNull(login);
        ArgumentNullException.ThrowIfNull(text);
        if (!_loginOutstanding)
        {
            throw new InvalidOperationException("No login is outstanding.");
        }

        _loginOutstanding = false;
        WriteLoginAnswer(reply, login, MailLines.Sanitize(text), temporary, smtpCode);
    }
}
