using System.Net;
using Microsoft.Extensions.Logging;

namespace ProxyKestrel.Gateway.Diagnostics;

/// <summary>Log messages of the mail front (routes with <c>Protocol</c> Imap, Pop3 or Smtp). Event ids are stable; none contains a password.</summary>
internal static partial class MailFrontLog
{
    [LoggerMessage(EventId = 130, EventName = "MailLoginRouted", Level = LogLevel.Information,
        Message = "Route {RouteId}: {Protocol} login of user '{User}' from {Client} goes to {Backend} (attempt {Attempt}).")]
    public static partial void LoginRouted(ILogger logger, string routeId, string protocol, string user, EndPoint? client, string backend, int attempt);

    [LoggerMessage(EventId = 131, EventName = "MailLoginRefused", Level = LogLevel.Warning,
        Message = "Route {RouteId}: {Protocol} login of user '{User}' from {Client} refused ({Kind}): {Reason}.")]
    public static partial void LoginRefused(ILogger logger, string routeId, string protocol, string user, EndPoint? client, string kind, string reason);

    [LoggerMessage(EventId = 132, EventName = "MailBackendLoginFailed", Level = LogLevel.Warning,
        Message = "Route {RouteId}: replaying the {Protocol} login of user '{User}' to {Backend} failed: {Reason}. The client was told to try again later.")]
    public static partial void BackendLoginFailed(ILogger logger, string routeId, string protocol, string user, string backend, string reason);

    [LoggerMessage(EventId = 133, EventName = "MailTlsFailed", Level = LogLevel.Warning,
        Message = "Route {RouteId}: the TLS handshake with {Client} failed: {Reason}. The connection was closed.")]
    public static partial void TlsFailed(ILogger logger, string routeId, EndPoint? client, string reason);

    [LoggerMessage(EventId = 134, EventName = "MailLoginTimeout", Level = LogLevel.Warning,
        Message = "Route {RouteId}: {Client} did not log in within LoginTimeout ({Timeout}). The connection was closed.")]
    public static partial void LoginTimeout(ILogger logger, string routeId, EndPoint? client, TimeSpan timeout);
}
