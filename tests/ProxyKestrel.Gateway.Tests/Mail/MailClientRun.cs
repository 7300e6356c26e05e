using ProxyKestrel.Gateway.Mail;

namespace ProxyKestrel.Gateway.Tests.Mail;

/// <summary>What a client dialogue did with a byte stream: its replies, its last step, the login, what it left unread.</summary>
internal sealed record MailClientRun(string Replies, MailClientStep Step, MailLogin? Login, string Unconsumed);
