namespace ProxyKestrel.Gateway.Mail;

/// <summary>The mail protocol a mail front speaks to its clients and replays to the backend.</summary>
internal enum MailProtocol
{
    /// <summary>IMAP4rev1 / IMAP4rev2 (RFC 3501, RFC 9051).</summary>
    Imap,

    /// <summary>POP3 (RFC 1939, RFC 2449, RFC 5034).</summary>
    Pop3,

    /// <summary>SMTP submission with AUTH (RFC 4954, RFC 3207).</summary>
    Smtp,
}
