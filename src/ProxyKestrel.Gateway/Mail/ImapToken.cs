namespace ProxyKestrel.Gateway.Mail;

/// <summary>One argument of an IMAP command: an atom, or a string (quoted or literal) with its escapes undone.</summary>
internal readonly record struct ImapToken(byte[] Value, bool IsAtom);
