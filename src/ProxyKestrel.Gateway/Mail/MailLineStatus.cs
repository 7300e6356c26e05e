namespace ProxyKestrel.Gateway.Mail;

/// <summary>The outcome of looking for one CRLF-terminated line (<see cref="MailLines.TryReadLine"/>).</summary>
internal enum MailLineStatus
{
    /// <summary>A whole line was read and consumed.</summary>
    Line,

    /// <summary>No CRLF yet; nothing consumed.</summary>
    Incomplete,

    /// <summary>The line is longer than allowed (with or without its CRLF having arrived).</summary>
    TooLong,
}
