using ProxyKestrel.Gateway.Mail;

namespace ProxyKestrel.Gateway.Tests.Mail;

/// <summary>What a backend login did with the backend's bytes: what it sent, what it passed on, its outcome.</summary>
internal sealed record MailBackendRun(MailBackendStep Step, string? Reason, string ToBackend, string ToClient, string Unconsumed);
