namespace ProxyKestrel.Gateway.Mail;

/// <summary>
/// Chooses the backend of a mail login in code (register it with <c>AddTcpProxy().AddMailBackendSelector&lt;T&gt;()</c>):
/// asked for every login on a mail route without <c>AuthHttp</c>, before the route's <c>Users</c> rules.
/// </summary>
public interface IMailBackendSelector
{
    /// <summary>
    /// The backend for <paramref name="request"/>: a cluster, a server, or a refusal. Null: no opinion, the route's own
    /// rules decide (<c>Users</c>, else its <c>ClusterId</c>). An exception gives the client a temporary failure.
    /// </summary>
    /// <param name="request">The route and the login (never the password).</param>
    /// <param name="cancellationToken">Cancelled when the login's time (the route's <c>LoginTimeout</c>) runs out or the client leaves.</param>
    ValueTask<MailBackendSelection?> SelectAsync(MailBackendRequest request, CancellationToken cancellationToken);
}
