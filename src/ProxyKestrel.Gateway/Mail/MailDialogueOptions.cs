namespace ProxyKestrel.Gateway.Mail;

/// <summary>How the gateway's own side of a mail dialogue (greeting, capabilities, login) behaves.</summary>
internal sealed record MailDialogueOptions
{
    /// <summary>The name in the greeting and in SMTP's EHLO answer.</summary>
    public string ServerName { get; init; } = "proxykestrel";

    /// <summary>STARTTLS / STLS can be offered (the caller has a certificate) while the connection is still plain.</summary>
    public bool TlsAvailable { get; init; }

    /// <summary>The connection is already encrypted (implicit TLS: IMAPS, POP3S, submissions).</summary>
    public bool TlsActive { get; init; }

    /// <summary>Credentials may be accepted over a connection that is not encrypted.</summary>
    public bool AllowPlaintextLogin { get; init; }

    /// <summary>The longest command line, and the longest IMAP literal, in bytes without the CRLF.</summary>
    public int MaxLineLength { get; init; } = 8192;

    /// <summary>After this many error replies the dialogue says goodbye and asks the caller to close.</summary>
    public int MaxInvalidCommands { get; init; } = 10;
}
