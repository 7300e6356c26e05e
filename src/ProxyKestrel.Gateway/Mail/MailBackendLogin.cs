using System.Buffers;

namespace ProxyKestrel.Gateway.Mail;

/// <summary>
/// Replays a client's <see cref="MailLogin"/> to the backend chosen for it, without transport: reads the backend's
/// greeting and answers, writes the login commands, and hands the backend's final answer on to the client as the
/// backend said it. Lines must end in CRLF; they may arrive split anywhere.
/// </summary>
internal abstract class MailBackendLogin
{
    /// <summary>The longest backend line accepted before the login is given up (<see cref="MailBackendStep.Failed"/>).</summary>
    public const int MaxLineLength = 65536;

    private readonly List<byte[]> _forClient = [];
    private bool _finished;

    private protected MailBackendLogin(MailLogin login) => Login = login;

    /// <summary>The login being replayed.</summary>
    private protected MailLogin Login { get; }

    /// <summary>
    /// The replay of <paramref name="login"/> in its protocol; <paramref name="serverName"/> is SMTP's EHLO name when the
    /// client gave none.
    /// </summary>
    public static MailBackendLogin Create(MailLogin login, string serverName = "proxykestrel")
    {
        ArgumentNullException.ThrowIfNull(login);
        ArgumentNullException.ThrowIfNull(serverName);
        return login.Protocol switch
        {
            MailProtocol.Imap => new ImapBackendLogin(login),
            MailProtocol.Pop3 => new Pop3BackendLogin(login),
            MailProtocol.Smtp => new SmtpBackendLogin(login, serverName),
            _ => throw new ArgumentOutOfRangeException(nameof(login), login.Protocol, "Unknown mail protocol."),
        };
    }

    /// <summary>
    /// Consumes the backend's lines from <paramref name="fromBackend"/> (nothing after its final answer), writes login
    /// commands to <paramref name="toBackend"/>, and on <see cref="MailBackendStep.LoggedIn"/> or
    /// <see cref="MailBackendStep.Rejected"/> the backend's answer (IMAP: untagged lines first) to
    /// <paramref name="toClient"/>. On <see cref="MailBackendStep.Failed"/> nothing is written for the client and
    /// <paramref name="reason"/> says what the backend said instead; it never contains credentials.
    /// </summary>
    public MailBackendStep Process(ref ReadOnlySequence<byte> fromBackend, IBufferWriter<byte> toBackend, IBufferWriter<byte> toClient, out string? reason)
    {
        ArgumentNullException.ThrowIfNull(toBackend);
        ArgumentNullException.ThrowIfNull(toClient);
        if (_finished)
        {
            throw new InvalidOperationException("The backend login is already finished.");
        }

        while (true)
        {
            switch (MailLines.TryReadLine(ref fromBackend, MaxLineLength, out byte[] line))
            {
                case MailLineStatus.Incomplete:
                    reason = null;
                    return MailBackendStep.NeedMore;
                case MailLineStatus.TooLong:
                    _finished = true;
                    reason = $"the backend sent a line longer than {MaxLineLength} bytes";
                    return MailBackendStep.Failed;
            }

            MailBackendStep step = OnLine(line, toBackend, out reason);
            if (step == MailBackendStep.NeedMore)
            {
                continue;
            }

            _finished = true;
            if (step != MailBackendStep.Failed)
            {
                foreach (byte[] forClient in _forClient)
                {
                    MailLines.Write(toClient, forClient);
                }
            }

            _forClient.Clear();
            return step;
        }
    }

    /// <summary>Handles one backend line: NeedMore to go on, or the outcome (with its reason when Failed).</summary>
    private protected abstract MailBackendStep OnLine(byte[] line, IBufferWriter<byte> toBackend, out string? reason);

    /// <summary>Keeps <paramref name="line"/> for the client, written only if the login ends with an answer.</summary>
    private protected void ForClient(byte[] line) => _forClient.Add(line);

    /// <summary>The line starts with <paramref name="prefix"/> (ASCII, any case) followed by a space or its end.</summary>
    private protected static bool IsWord(ReadOnlySpan<byte> line, ReadOnlySpan<byte> prefix) =>
        line.Length >= prefix.Length && System.Text.Ascii.EqualsIgnoreCase(line[..prefix.Length], prefix)
        && (line.Length == prefix.Length || line[prefix.Length] == (byte)' ');

    /// <summary>A value that fits on a command line as it is: no NUL, CR or LF.</summary>
    private protected static bool FitsOnLine(ReadOnlySpan<byte> value) => !MailLines.HasForbiddenControl(value);
}
