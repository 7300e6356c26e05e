using System.Net;
using ProxyKestrel.ProxyProtocol;

namespace ProxyKestrel.Gateway.Configuration;

/// <summary>
/// Checks a route's <c>Match</c>, <c>InspectTimeout</c> and <c>MaxInspectBytes</c>, and the routes that share one
/// <c>Listen</c> endpoint: their listener-wide settings agree, and no connection could match two of them equally well.
/// </summary>
internal static class TcpRouteMatchValidator
{
    private const string Specificity =
        "routes sharing an endpoint must differ in what they match or in how specific the match is (an exact name before a wildcard, a longer wildcard before a shorter one, more keys before fewer; at most one route without Match)";

    public static void ValidateRoute(TcpRouteConfig route, string at, List<string> errors)
    {
        if (route.InspectTimeout is { } inspect && (inspect <= TimeSpan.Zero || inspect > TimeSpan.FromMinutes(10)))
        {
            errors.Add($"{at}:InspectTimeout: {inspect:c} is out of range; allowed: more than 00:00:00, up to 00:10:00 (omit for {TcpRouteConfig.DefaultInspectTimeout:c}).");
        }

        if (route.MaxInspectBytes is { } max && (max < 1 || max > TcpRouteConfig.MaxMaxInspectBytes))
        {
            errors.Add($"{at}:MaxInspectBytes: {max} is out of range; allowed: 1 to {TcpRouteConfig.MaxMaxInspectBytes} (omit for {TcpRouteConfig.DefaultMaxInspectBytes}).");
        }

        if (route.Match is not { } match)
        {
            return;
        }

        string m = $"{at}:Match";
        if (match.Sni is null && match.Alpn is null && match.Host is null && match.Protocol is null && match.SourceNetworks is null)
        {
            errors.Add($"{m}: no key set; allowed: one or more of Sni, Alpn, Host, Protocol, SourceNetworks (omit Match for the listener's default route).");
        }

        CheckNames(match.Sni, $"{m}:Sni", "server names such as a.example.com or *.example.com", errors);
        CheckNames(match.Host, $"{m}:Host", "host names without a port, such as a.example.com or *.example.com", errors);
        if (NotEmpty(match.Alpn, $"{m}:Alpn", "protocol ids such as h2 or http/1.1", errors) is { } alpn)
        {
            for (int i = 0; i < alpn.Count; i++)
            {
                string id = alpn[i] ?? string.Empty;
                if (id.Length is 0 or > 255 || id.Any(c => c is < '!' or > '~'))
                {
                    errors.Add($"{m}:Alpn:{i}: '{alpn[i]}' is not a protocol id; allowed: 1 to 255 printable ASCII characters, such as h2 or http/1.1.");
                }
            }
        }

        if (NotEmpty(match.Protocol, $"{m}:Protocol", string.Join(", ", Enum.GetNames<TcpClientProtocol>()), errors) is { } protocols)
        {
            for (int i = 0; i < protocols.Count; i++)
            {
                if (!Enum.IsDefined(protocols[i]))
                {
                    errors.Add($"{m}:Protocol:{i}: {(int)protocols[i]} is not a protocol; allowed: {string.Join(", ", Enum.GetNames<TcpClientProtocol>())}.");
                }
            }

            if ((match.Sni is not null || match.Alpn is not null) && !protocols.Contains(TcpClientProtocol.Tls))
            {
                errors.Add($"{m}:Protocol: Sni and Alpn are read from a TLS ClientHello, which Protocol does not allow here; allowed: add Tls, or remove Sni and Alpn.");
            }

            if (match.Host is not null && !protocols.Contains(TcpClientProtocol.Http))
            {
                errors.Add($"{m}:Protocol: Host is read from an HTTP request, which Protocol does not allow here; allowed: add Http, or remove Host.");
            }
        }

        if (match.Host is not null && (match.Sni is not null || match.Alpn is not null))
        {
            errors.Add($"{m}: Host (HTTP) and Sni or Alpn (TLS) cannot both match one connection; allowed: one kind per route.");
        }

        if (NotEmpty(match.SourceNetworks, $"{m}:SourceNetworks", "networks in CIDR notation such as 10.0.0.0/8", errors) is { } networks)
        {
            for (int i = 0; i < networks.Count; i++)
            {
                if (ProxyProtocolOptionsValidation.DescribeNetworkProblem(networks[i]) is { } problem)
                {
                    errors.Add($"{m}:SourceNetworks:{i}: {problem}");
                }
            }
        }
    }

    /// <summary>The routes listening on <paramref name="endpoint"/> (two or more).</summary>
    public static void ValidateSharedListener(IPEndPoint endpoint, List<(TcpRouteConfig Route, string At)> routes, List<string> errors)
    {
        (TcpRouteConfig first, _) = routes[0];
        for (int i = 1; i < routes.Count; i++)
        {
            (TcpRouteConfig route, string at) = routes[i];
            if (!string.Equals(Describe(route.AcceptProxyProtocol), Describe(first.AcceptProxyProtocol), StringComparison.Ordinal))
            {
                errors.Add($"{at}:AcceptProxyProtocol: differs from route '{first.RouteId}', which also listens on {endpoint}; allowed: the same AcceptProxyProtocol (or none) on every route of one endpoint, as the header is read before a route is chosen.");
            }
        }

        CheckAgreement(routes, r => r.InspectTimeout?.ToString("c", System.Globalization.CultureInfo.InvariantCulture), nameof(TcpRouteConfig.InspectTimeout), endpoint, errors);
        CheckAgreement(routes, r => r.MaxInspectBytes?.ToString(System.Globalization.CultureInfo.InvariantCulture), nameof(TcpRouteConfig.MaxInspectBytes), endpoint, errors);

        for (int i = 0; i < routes.Count; i++)
        {
            for (int j = i + 1; j < routes.Count; j++)
            {
                if (CanTie(routes[i].Route.Match, routes[j].Route.Match))
                {
                    errors.Add($"{routes[j].At}:Match: a connection to {endpoint} could match route '{routes[i].Route.RouteId}' and this route equally well; allowed: {Specificity}.");
                }
            }
        }
    }

    /// <summary>Whether one connection could match both with the same specificity (see <see cref="TcpRouteMatch"/>).</summary>
    private static bool CanTie(TcpRouteMatch? a, TcpRouteMatch? b)
    {
        if (a is null || b is null)
        {
            return a is null && b is null;
        }

        int OtherKeys(TcpRouteMatch m) => (m.Alpn is null ? 0 : 1) + (m.Protocol is null ? 0 : 1) + (m.SourceNetworks is null ? 0 : 1);
        return SameRankName(a.Sni, b.Sni)
            && SameRankName(a.Host, b.Host)
            && OtherKeys(a) == OtherKeys(b)
            && (a.Alpn is null || b.Alpn is null || a.Alpn.Intersect(b.Alpn, StringComparer.Ordinal).Any())
            && (a.Protocol is null || b.Protocol is null || a.Protocol.Intersect(b.Protocol).Any())
            && (a.SourceNetworks is null || b.SourceNetworks is null || a.SourceNetworks.Any(x => b.SourceNetworks.Any(y => Overlap(x, y))));
    }

    /// <summary>
    /// Whether some name matches an entry of each list at the same rank: neither list set, the same exact name in both,
    /// or the same wildcard in both (wildcards of one length that both match a name are the same wildcard).
    /// </summary>
    private static bool SameRankName(IReadOnlyList<string>? a, IReadOnlyList<string>? b)
    {
        if (a is null || b is null)
        {
            return a is null && b is null;
        }

        return a.Intersect(b, StringComparer.OrdinalIgnoreCase).Any();
    }

    private static bool Overlap(string a, string b) =>
        ProxyProtocolOptionsValidation.TryParseNetwork(a, out IPNetwork x)
        && ProxyProtocolOptionsValidation.TryParseNetwork(b, out IPNetwork y)
        && x.BaseAddress.AddressFamily == y.BaseAddress.AddressFamily
        && (x.Contains(y.BaseAddress) || y.Contains(x.BaseAddress));

    private static void CheckAgreement(List<(TcpRouteConfig Route, string At)> routes, Func<TcpRouteConfig, string?> value, string key, IPEndPoint endpoint, List<string> errors)
    {
        (TcpRouteConfig Route, string At)? setter = null;
        foreach ((TcpRouteConfig route, string at) in routes)
        {
            if (value(route) is not { } mine)
            {
                continue;
            }

            if (setter is { } first && !string.Equals(value(first.Route), mine, StringComparison.Ordinal))
            {
                errors.Add($"{at}:{key}: {mine} differs from route '{first.Route.RouteId}' ({value(first.Route)}), which also listens on {endpoint}; allowed: one value on every route of an endpoint that sets it.");
            }

            setter ??= (route, at);
        }
    }

    private static void CheckNames(IReadOnlyList<string>? names, string key, string allowed, List<string> errors)
    {
        if (NotEmpty(names, key, allowed, errors) is not { } list)
        {
            return;
        }

        for (int i = 0; i < list.Count; i++)
        {
            if (!IsName(list[i]))
            {
                errors.Add($"{key}:{i}: '{list[i]}' is not a name; allowed: {allowed} (labels of letters, digits, '-' or '_', up to 63 characters each, 253 in all; a wildcard is '*.' before one or more labels).");
            }
        }
    }

    private static IReadOnlyList<T>? NotEmpty<T>(IReadOnlyList<T>? list, string key, string allowed, List<string> errors)
    {
        if (list is { Count: 0 })
        {
            errors.Add($"{key}: empty; allowed: one or more of {allowed} (omit the key to match any).");
            return null;
        }

        return list;
    }

    /// <summary>A DNS name (<c>a.example.com</c>) or a wildcard (<c>*.example.com</c>).</summary>
    internal static bool IsName(string? name)
    {
        if (string.IsNullOrEmpty(name))
        {
            return false;
        }

        string rest = name.StartsWith("*.", StringComparison.Ordinal) ? name[2..] : name;
        if (rest.Length is 0 or > 253)
        {
            return false;
        }

        foreach (string label in rest.Split('.'))
        {
            if (label.Length is 0 or > 63 || label[0] == '-' || label[^1] == '-' || !label.All(c => char.IsAsciiLetterOrDigit(c) || c is '-' or '_'))
            {
                return false;
            }
        }

        return true;
    }

    private static string Describe(ProxyProtocolOptions? options) =>
        options is null
            ? "none"
            : string.Create(
                System.Globalization.CultureInfo.InvariantCulture,
                $"{string.Join(',', options.TrustedNetworks)}|{options.UntrustedPeers}|{options.Mode}|{options.HeaderTimeout:c}|{options.MaxHeaderSize}|{options.AllowedVersions}");
}
