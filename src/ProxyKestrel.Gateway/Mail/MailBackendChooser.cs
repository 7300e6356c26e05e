using System.Net;
using System.Runtime.CompilerServices;
using System.Text.RegularExpressions;
using Microsoft.Extensions.Logging;
using ProxyKestrel.Gateway.Configuration;

namespace ProxyKestrel.Gateway.Mail;

/// <summary>
/// Chooses the backend of a mail login: the route's <see cref="TcpRouteConfig.AuthHttp"/> server when it has one (its
/// answer is final); else the registered <see cref="IMailBackendSelector"/> (an answer other than null is final); else
/// the first of the route's <see cref="TcpRouteConfig.Users"/> rules that matches the login name; else the route's
/// <see cref="TcpRouteConfig.ClusterId"/>. It never throws for a failing auth server or selector: the login then gets
/// a temporary failure (<see cref="MailBackendSelection.Temporary"/>).
/// </summary>
internal sealed class MailBackendChooser : IDisposable
{
    private readonly IMailBackendSelector? _selector;
    private readonly TimeProvider _timeProvider;
    private readonly ILogger _logger;
    private readonly MailAuthHttpClient _authHttp;
    private readonly ConditionalWeakTable<TcpRouteConfig, Regex?[]> _rules = [];

    /// <summary>A chooser asking <paramref name="selector"/> (when registered), with its own HTTP client for <c>AuthHttp</c>.</summary>
    public MailBackendChooser(IMailBackendSelector? selector, TimeProvider timeProvider, ILogger logger)
        : this(selector, timeProvider, logger, new MailAuthHttpClient(logger))
    {
    }

    /// <summary>A chooser that asks <c>AuthHttp</c> servers through <paramref name="authHttp"/>, which it then owns.</summary>
    internal MailBackendChooser(IMailBackendSelector? selector, TimeProvider timeProvider, ILogger logger, MailAuthHttpClient authHttp)
    {
        ArgumentNullException.ThrowIfNull(timeProvider);
        ArgumentNullException.ThrowIfNull(logger);
        ArgumentNullException.ThrowIfNull(authHttp);
        _selector = selector;
        _timeProvider = timeProvider;
        _logger = logger;
        _authHttp = authHttp;
    }

    /// <summary>
    /// The backend of <paramref name="login"/> on <paramref name="route"/>: a cluster, a server or a refusal.
    /// <paramref name="attempt"/> counts the logins of the connection from 1. The auth server's wait is bounded by
    /// <paramref name="cancellationToken"/> and by the route's login timeout.
    /// </summary>
    public async ValueTask<MailBackendSelection> ChooseAsync(TcpRouteConfig route, MailLogin login, IPEndPoint? client, int attempt, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(route);
        ArgumentNullException.ThrowIfNull(login);
        ArgumentOutOfRangeException.ThrowIfLessThan(attempt, 1);
        string user = MailLines.Sanitize(login.User);
        if (route.AuthHttp is { } authHttp)
        {
            return await AskAuthHttpAsync(route, authHttp, login, client, attempt, cancellationToken).ConfigureAwait(false);
        }

        if (_selector is not null && await SelectAsync(_selector, route, login, client, attempt, cancellationToken).ConfigureAwait(false) is { } selected)
        {
            return selected;
        }

        Regex?[] rules = _rules.GetValue(route, Compile);
        for (int i = 0; i < rules.Length; i++)
        {
            if (rules[i] is not { } rule)
            {
                continue;
            }

            try
            {
                if (rule.IsMatch(login.User))
                {
                    string cluster = route.Users![i].ClusterId;
                    MailBackendLog.UserRuleMatched(_logger, route.RouteId, user, attempt, i, cluster);

                    return MailBackendSelection.Cluster(cluster);
                }
            }
            catch (RegexMatchTimeoutException)
            {
                MailBackendLog.UserRuleTimedOut(_logger, route.RouteId, i, route.Users![i].Match, user);
            }
        }

        MailBackendLog.BackendChosen(_logger, route.RouteId, user, attempt, route.ClusterId, nameof(TcpRouteConfig.ClusterId));

        return MailBackendSelection.Cluster(route.ClusterId);
    }

    /// <inheritdoc/>
    public void Dispose() => _authHttp.Dispose();

    private async ValueTask<MailBackendSelection> AskAuthHttpAsync(TcpRouteConfig route, string authHttp, MailLogin login, IPEndPoint? client, int attempt, CancellationToken cancellationToken)
    {
        string user = MailLines.Sanitize(login.User);
        if (!Uri.TryCreate(authHttp.Trim(), UriKind.Absolute, out Uri? url) || (url.Scheme != Uri.UriSchemeHttp && url.Scheme != Uri.UriSchemeHttps))
        {
            MailBackendLog.AuthHttpFailed(_logger, route.RouteId, "(not an http or https URL)", user, attempt, "AuthHttp is not an absolute http or https URL");
            return MailBackendSelection.Unavailable(MailAuthHttpClient.TemporaryFailure);
        }

        using var timeout = new CancellationTokenSource(route.EffectiveLoginTimeout, _timeProvider);
        using var linked = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken, timeout.Token);
        MailBackendSelection answer = await _authHttp.AskAsync(url, route.RouteId, login, client, attempt, linked.Token).ConfigureAwait(false);
        Report(route, user, attempt, answer, "AuthHttp");
        return answer;
    }

    /// <summary>The selector's answer; null when it has none (the route's rules decide).</summary>
    private async ValueTask<MailBackendSelection?> SelectAsync(IMailBackendSelector selector, TcpRouteConfig route, MailLogin login, IPEndPoint? client, int attempt, CancellationToken cancellationToken)
    {
        string user = MailLines.Sanitize(login.User);
        string name = selector.GetType().Name;
        var request = new MailBackendRequest
        {
            RouteId = route.RouteId,
            Protocol = route.Protocol,
            User = login.User,
            ClientAddress = client?.Address is { IsIPv4MappedToIPv6: true } mapped ? mapped.MapToIPv4() : client?.Address,
            LoginAttempt = attempt,
        };
        MailBackendSelection? answer;
        try
        {
            answer = await selector.SelectAsync(request, cancellationToken).ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            return MailBackendSelection.Unavailable(MailAuthHttpClient.TemporaryFailure);
        }
        catch (Exception e)
        {
            MailBackendLog.SelectorFailed(_logger, route.RouteId, name, user, e);
            return MailBackendSelection.Unavailable(MailAuthHttpClient.TemporaryFailure);
        }

        if (answer is null)
        {
            return null;
        }

        if (answer.Error is null && string.IsNullOrWhiteSpace(answer.ClusterId) && answer.Server is null)
        {
            MailBackendLog.SelectionEmpty(_logger, route.RouteId, name, user);
            return MailBackendSelection.Unavailable(MailAuthHttpClient.TemporaryFailure);
        }

        Report(route, user, attempt, answer, $"selector {name}");
        return answer;
    }

    private void Report(TcpRouteConfig route, string user, int attempt, MailBackendSelection answer, string source)
    {
        if (answer.Error is { } error)
        {
            string text = MailLines.Sanitize(error);
            if (!answer.Temporary)
            {
                MailBackendLog.LoginRefused(_logger, route.RouteId, user, attempt, source, text);
            }

            return;
        }

        object backend = (object?)answer.Server ?? answer.ClusterId ?? string.Empty;
        MailBackendLog.BackendChosen(_logger, route.RouteId, user, attempt, backend, source);
    }

    /// <summary>The route's rules, compiled once per route configuration; a rule that does not compile (never valid) is null.</summary>
    private static Regex?[] Compile(TcpRouteConfig route)
    {
        IReadOnlyList<TcpMailUserRule>? users = route.Users;
        if (users is null || users.Count == 0)
        {
            return [];
        }

        var rules = new Regex?[users.Count];
        for (int i = 0; i < rules.Length; i++)
        {
            rules[i] = users[i] is { } rule ? TcpMailRouteValidator.CompileUserRule(rule.Match, out _) : null;
        }

        return rules;
    }
}
