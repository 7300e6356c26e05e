using System.Net;
using Microsoft.Extensions.Logging;
using ProxyKestrel.Gateway.Mail;

namespace ProxyKestrel.Gateway.Diagnostics;

/// <summary>Log messages of the mail front (routes with <c>Protocol</c> Imap, Pop3 or Smtp). Event ids are stable; none contains a password.</summary>
internal static partial class MailFrontLog
{
    [LoggerMessage(EventId = 130, EventName = "MailLoginRouted", Level = LogLevel.Information,
        Message = "Route {RouteId}: {Protocol} login of user '{User}' from {Client} goes to {Backend} (attempt {Attempt}).")]
    private static partial void LoginRouted(ILogger logger, string routeId, string protocol, string user, EndPoint? client, string backend, int attempt);

    [LoggerMessage(EventId = 131, EventName = "MailLoginRefused", Level = LogLevel.Warning,
        Message = "Route {RouteId}: {Protocol} login of user '{User}' from {Client} refused ({Kind}): {Reason}.")]
    private static partial void LoginRefused(ILogger logger, string routeId, string protocol, string user, EndPoint? client, string kind, string reason);

    [LoggerMessage(EventId = 132, EventName = "MailBackendLoginFailed", Level = LogLevel.Warning,
        Message = "Route {RouteId}: replaying the {Protocol} login of user '{User}' to {Backend} failed: {Reason}. The client was told to try again later.")]
    private static partial void BackendLoginFailed(ILogger logger, string routeId, string protocol, string user, string backend, string reason);

    [LoggerMessage(EventId = 133, EventName = "MailTlsFailed", Level = LogLevel.Warning,
        Message = "Route {RouteId}: the TLS handshake with {Client} failed: {Reason}. The connection was closed.")]
    public static partial void TlsFailed(ILogger logger, string routeId, EndPoint? client, string reason);

    [LoggerMessage(EventId = 134, EventName = "MailLoginTimeout", Level = LogLevel.Warning,
        Message = "Route {RouteId}: {Client} did not log in within LoginTimeout ({Timeout}). The connection was closed.")]
    public static partial void LoginTimeout(ILogger logger, string routeId, EndPoint? client, TimeSpan timeout);

    /// <summary>The backend chosen for <paramref name="login"/> (its user name made printable; never its password).</summary>
    public static void LoginRouted(ILogger logger, string routeId, MailLogin login, EndPoint? client, string backend, int attempt)
    {
        if (logger.IsEnabled(LogLevel.Information))
        {
            string protocol = login.Protocol.ToString();
            string user = MailLines.Sanitize(login.User);
            LoginRouted(logger, routeId, protocol, user, client, backend, attempt);
        }
    }

    /// <summary><paramref name="login"/> refused: <paramref name="kind"/> says by whom or how.</summary>
    public static void LoginRefused(ILogger logger, string routeId, MailLogin login, EndPoint? client, string kind, string reason)
    {
        if (logger.IsEnabled(LogLevel.Warning))
        {
            string protocol = login.Protocol.ToString();
            string user = MailLines.Sanitize(login.User);
            LoginRefused(logger, routeId, protocol, user, client, kind, reason);
        }
    }

    /// <summary>The replay of <paramref name="login"/> to <paramref name="backend"/> failed.</summary>
    public static void BackendLoginFailed(ILogger logger, string routeId, MailLogin login, string backend, string reason)
    {
        if (logger.IsEnabled(LogLevel.Warning))
        {
            string protocol = login.Protocol.ToString();
            string user = MailLines.Sanitize(login.User);
            BackendLoginFailed(logger, routeId, protocol, user, backend, reason);
        }
    }
}
