using System.Net;

namespace ProxyKestrel.Gateway.Configuration;

/// <summary>Checks a <see cref="TcpProxyConfig"/>, reporting every error with its key and what is allowed.</summary>
internal static class TcpProxyConfigValidator
{
    /// <summary>
    /// Validates <paramref name="config"/>. <paramref name="clusterExists"/> (when given) checks each ClusterId against
    /// YARP's loaded clusters.
    /// </summary>
    public static void Validate(TcpProxyConfig config, Func<string, bool>? clusterExists, List<string> errors)
    {
        ArgumentNullException.ThrowIfNull(config);
        ArgumentNullException.ThrowIfNull(errors);
        ValidateSettings(config, errors);
        string prefix = $"{TcpProxyConfig.SectionName}:Routes";
        ValidateRoutes([.. config.Routes.Select(route => (route, prefix))], clusterExists, errors);
    }

    /// <summary>Checks the gateway-wide settings (<c>DrainTimeout</c>, <c>Transport</c>).</summary>
    internal static void ValidateSettings(TcpProxyConfig config, List<string> errors)
    {
        if (config.DrainTimeout < TimeSpan.Zero || config.DrainTimeout > TimeSpan.FromHours(1))
        {
            errors.Add($"{TcpProxyConfig.SectionName}:DrainTimeout: {config.DrainTimeout:c} is out of range; allowed: 00:00:00 to 01:00:00.");
        }

        if (config.Transport == TcpProxyTransport.Epoll && !OperatingSystem.IsLinux())
        {
            errors.Add($"{TcpProxyConfig.SectionName}:Transport: Epoll needs Linux; allowed here: Auto, Sockets.");
        }
    }

    /// <summary>
    /// Checks routes that may come from several providers, each reported under its own <c>Prefix</c> (such as
    /// <c>TcpProxy:Routes</c>): route ids must be unique across all of them; routes that share an endpoint (from any
    /// provider) must agree on its settings and not tie (<see cref="TcpRouteMatchValidator.ValidateSharedListener"/>).
    /// </summary>
    internal static void ValidateRoutes(IReadOnlyList<(TcpRouteConfig Route, string Prefix)> routes, Func<string, bool>? clusterExists, List<string> errors)
    {
        var endpoints = new Dictionary<IPEndPoint, List<(TcpRouteConfig Route, string At)>>();
        var ids = new Dictionary<string, string>(StringComparer.OrdinalIgnoreCase);
        foreach ((TcpRouteConfig? route, string prefix) in routes)
        {
            if (route is null)
            {
                errors.Add($"{prefix}: a route is null; allowed: TcpRouteConfig instances only.");
                continue;
            }

            string at = $"{prefix}:{route.RouteId}";
            if (string.IsNullOrWhiteSpace(route.RouteId))
            {
                at = $"{prefix}:(no id)";
                errors.Add($"{at}:RouteId: missing; allowed: a non-empty id, unique across every route provider.");
            }
            else if (!ids.TryAdd(route.RouteId, prefix))
            {
                errors.Add($"{at}: the route id '{route.RouteId}' is also supplied by {ids[route.RouteId]}; allowed: each route id once across every route provider (LoadFromConfig, LoadFromMemory).");
            }

            IReadOnlyList<string> listen = route.Listen ?? [];
            if (listen.Count == 0)
            {
                errors.Add($"{at}:Listen: missing; allowed: one or more endpoints such as 0.0.0.0:2525 or [::]:2525.");
            }

            for (int i = 0; i < listen.Count; i++)
            {
                if (!TryParseEndPoint(listen[i], out IPEndPoint? endpoint))
                {
                    errors.Add($"{at}:Listen:{i}: '{listen[i]}' is not an endpoint; allowed: ADDRESS:PORT such as 0.0.0.0:2525, 127.0.0.1:2525 or [::]:2525.");
                }
                else if (endpoint.Port != 0)
                {
                    if (!endpoints.TryGetValue(endpoint, out List<(TcpRouteConfig Route, string At)>? sharing))
                    {
                        sharing = [];
                        endpoints[endpoint] = sharing;
                    }

                    if (!sharing.Exists(r => ReferenceEquals(r.Route, route)))
                    {
                        sharing.Add((route, at));
                    }
                }
            }

            if (string.IsNullOrWhiteSpace(route.ClusterId))
            {
                errors.Add($"{at}:ClusterId: missing; allowed: the id of a cluster under ReverseProxy:Clusters.");
            }
            else if (clusterExists is not null && !clusterExists(route.ClusterId))
            {
                errors.Add($"{at}:ClusterId: cluster '{route.ClusterId}' is not defined under ReverseProxy:Clusters (nor by another YARP config provider).");
            }

            if (route.ConnectTimeout <= TimeSpan.Zero || route.ConnectTimeout > TimeSpan.FromMinutes(10))
            {
                errors.Add($"{at}:ConnectTimeout: {route.ConnectTimeout:c} is out of range; allowed: more than 00:00:00, up to 00:10:00.");
            }

            ValidateIdleTimeout(route.IdleTimeout, $"{at}:{nameof(TcpRouteConfig.IdleTimeout)}", string.Empty, errors);
            ValidateIdleTimeout(route.ClientTimeout, $"{at}:{nameof(TcpRouteConfig.ClientTimeout)}", " (omit to use IdleTimeout)", errors);
            ValidateIdleTimeout(route.ServerTimeout, $"{at}:{nameof(TcpRouteConfig.ServerTimeout)}", " (omit to use IdleTimeout)", errors);

            if (route.MaxConnections is < 1)
            {
                errors.Add($"{at}:MaxConnections: {route.MaxConnections} is out of range; allowed: 1 or more (omit for no limit).");
            }

            if (route.AllowedClients is { } allowed)
            {
                for (int i = 0; i < allowed.Count; i++)
                {
                    if (ProxyProtocolOptionsValidation.DescribeNetworkProblem(allowed[i]) is { } problem)
                    {
                        errors.Add($"{at}:AllowedClients:{i}: {problem}");
                    }
                }
            }

            if (route.AcceptProxyProtocol is { } accept)
            {
                ProxyProtocolOptionsValidation.Validate(accept, $"{at}:AcceptProxyProtocol", errors);
            }

            TcpRouteMatchValidator.ValidateRoute(route, at, errors);
            TcpMailRouteValidator.ValidateRoute(route, at, clusterExists, errors);
        }

        foreach ((IPEndPoint endpoint, List<(TcpRouteConfig Route, string At)> sharing) in endpoints)
        {
            if (sharing.Count > 1)
            {
                List<(TcpRouteConfig Route, string At)> relayed = TcpMailRouteValidator.ValidateSharedListener(endpoint, sharing, errors);
                if (relayed.Count > 1)
                {
                    TcpRouteMatchValidator.ValidateSharedListener(endpoint, relayed, errors);
                }
            }
        }
    }

    /// <summary>
    /// Checks an idle timeout of a route (<c>IdleTimeout</c>, <c>ClientTimeout</c>, <c>ServerTimeout</c>): more than
    /// zero, up to 1 day; null (not set) passes.
    /// </summary>
    private static void ValidateIdleTimeout(TimeSpan? timeout, string key, string hint, List<string> errors)
    {
        if (timeout is { } value && (value <= TimeSpan.Zero || value > TimeSpan.FromDays(1)))
        {
            errors.Add($"{key}: {value:c} is out of range; allowed: more than 00:00:00, up to 1.00:00:00{hint}.");
        }
    }

    /// <summary>Parses <c>ADDRESS:PORT</c> (IPv6 in brackets); <c>*:PORT</c> means all IPv4 and IPv6 addresses.</summary>
    public static bool TryParseEndPoint(string? text, [System.Diagnostics.CodeAnalysis.NotNullWhen(true)] out IPEndPoint? endpoint)
    {
        endpoint = null;
        if (string.IsNullOrWhiteSpace(text))
        {
            return false;
        }

        text = text.Trim();
        if (text.StartsWith("*:", StringComparison.Ordinal))
        {
            text = "[::]:" + text[2..];
        }

        if (!IPEndPoint.TryParse(text, out IPEndPoint? parsed) || text.EndsWith(']') || !text.Contains(':', StringComparison.Ordinal))
        {
            return false;
        }

        // IPEndPoint.TryParse accepts "1.2.3.4" with port 0; require an explicit port.
        int colon = text.LastIndexOf(':');
        if (colon < 0 || colon == text.Length - 1 || (parsed.AddressFamily == System.Net.Sockets.AddressFamily.InterNetworkV6 && !text.StartsWith('[')))
        {
            return false;
        }

        endpoint = parsed;
        return true;
    }
}
