using System.Net;

namespace ProxyKestrel.Gateway.Mail;

/// <summary>
/// Where a mail login goes: a cluster of YARP (<see cref="Cluster"/>), one server (<see cref="At"/>), or nowhere
/// (<see cref="Refuse"/>: the login is answered with <see cref="Error"/>).
/// </summary>
public sealed record MailBackendSelection
{
    /// <summary>The YARP cluster (under <c>ReverseProxy:Clusters</c>) whose destinations receive the login.</summary>
    public string? ClusterId { get; init; }

    /// <summary>The one server that receives the login (nginx's <c>Auth-Server</c> and <c>Auth-Port</c>).</summary>
    public IPEndPoint? Server { get; init; }

    /// <summary>Set when the login is refused: the text the client is told.</summary>
    public string? Error { get; init; }

    /// <summary>
    /// With <see cref="Error"/>: how long to wait before the refusal is answered (nginx's <c>Auth-Wait</c>); null:
    /// the route's <c>FailedLoginDelay</c>.
    /// </summary>
    public TimeSpan? Wait { get; init; }

    /// <summary>
    /// With <see cref="Error"/>: true when the refusal is a temporary failure (the auth server or the selector
    /// failed; IMAP <c>NO [UNAVAILABLE]</c>, POP3 <c>-ERR [SYS/TEMP]</c>, SMTP <c>454</c>), false when the login
    /// itself was rejected.
    /// </summary>
    public bool Temporary { get; init; }

    /// <summary>With <see cref="Error"/> on SMTP: the reply code to answer with (nginx's <c>Auth-Error-Code</c>, e.g. <c>535 5.7.8</c>); null: the front's own.</summary>
    public string? ErrorCode { get; init; }

    /// <summary>Whether the login is refused (<see cref="Error"/> is set).</summary>
    public bool IsRefused => Error is not null;

    /// <summary>The login goes to a destination of the cluster <paramref name="clusterId"/>.</summary>
    public static MailBackendSelection Cluster(string clusterId)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(clusterId);
        return new MailBackendSelection { ClusterId = clusterId };
    }

    /// <summary>The login goes to <paramref name="server"/>.</summary>
    public static MailBackendSelection At(IPEndPoint server)
    {
        ArgumentNullException.ThrowIfNull(server);
        return new MailBackendSelection { Server = server };
    }

    /// <summary>The login is rejected with <paramref name="error"/>, answered after <paramref name="wait"/> (null: the route's <c>FailedLoginDelay</c>).</summary>
    public static MailBackendSelection Refuse(string error, TimeSpan? wait = null)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(error);
        if (wait < TimeSpan.Zero)
        {
            throw new ArgumentOutOfRangeException(nameof(wait), wait, "The wait cannot be negative.");
        }

        return new MailBackendSelection { Error = error, Wait = wait };
    }

    /// <summary>A temporary failure with <paramref name="error"/> (the choice could not be made, not the login rejected).</summary>
    internal static MailBackendSelection Unavailable(string error) => Refuse(error) with { Temporary = true };
}
