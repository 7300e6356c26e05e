using Microsoft.Extensions.Logging;

namespace ProxyKestrel.Gateway.Mail;

/// <summary>
/// Log messages of the choice of a mail login's backend (<see cref="MailBackendChooser"/>). Event ids are stable; none
/// carries a password or a request header's value.
/// </summary>
internal static partial class MailBackendLog
{
    [LoggerMessage(EventId = 160, EventName = "MailAuthHttpFailed", Level = LogLevel.Warning,
        Message = "Route {RouteId}: the auth_http server {AuthUrl} gave no answer for the login of '{User}' (attempt {Attempt}): {Reason}. The client gets a temporary failure.")]
    public static partial void AuthHttpFailed(ILogger logger, string routeId, string authUrl, string user, int attempt, string reason);

    [LoggerMessage(EventId = 161, EventName = "MailLoginRefused", Level = LogLevel.Information,
        Message = "Route {RouteId}: the login of '{User}' (attempt {Attempt}) was refused by {Source}: {Error}.")]
    public static partial void LoginRefused(ILogger logger, string routeId, string user, int attempt, string source, string error);

    [LoggerMessage(EventId = 162, EventName = "MailSelectorFailed", Level = LogLevel.Error,
        Message = "Route {RouteId}: the mail backend selector {Selector} failed for the login of '{User}'; the client gets a temporary failure.")]
    public static partial void SelectorFailed(ILogger logger, string routeId, string selector, string user, Exception exception);

    [LoggerMessage(EventId = 163, EventName = "MailSelectionEmpty", Level = LogLevel.Error,
        Message = "Route {RouteId}: the mail backend selector {Selector} answered the login of '{User}' with neither a cluster, a server nor an error; the client gets a temporary failure.")]
    public static partial void SelectionEmpty(ILogger logger, string routeId, string selector, string user);

    [LoggerMessage(EventId = 164, EventName = "MailUserRuleTimedOut", Level = LogLevel.Warning,
        Message = "Route {RouteId}: Users:{Index} ('{Pattern}') took longer than 100 ms on the login name '{User}' and counts as not matching.")]
    public static partial void UserRuleTimedOut(ILogger logger, string routeId, int index, string pattern, string user);

    [LoggerMessage(EventId = 165, EventName = "MailBackendChosen", Level = LogLevel.Debug,
        Message = "Route {RouteId}: the login of '{User}' (attempt {Attempt}) goes to {Backend}, chosen by {Source}.")]
    public static partial void BackendChosen(ILogger logger, string routeId, string user, int attempt, object backend, string source);

    [LoggerMessage(EventId = 166, EventName = "MailUserRuleMatched", Level = LogLevel.Debug,
        Message = "Route {RouteId}: the login of '{User}' (attempt {Attempt}) matches Users:{Index} and goes to cluster {ClusterId}.")]
    public static partial void UserRuleMatched(ILogger logger, string routeId, string user, int attempt, int index, string clusterId);
}
