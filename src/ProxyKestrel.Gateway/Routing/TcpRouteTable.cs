using ProxyKestrel.Gateway.Configuration;
using ProxyKestrel.ProxyProtocol;

namespace ProxyKestrel.Gateway.Routing;

/// <summary>
/// The routes that share one listening endpoint, and how a connection's route is chosen among them: the most specific
/// route whose <c>Match</c> the connection satisfies, else the route without <c>Match</c>, else none. The settings
/// that apply before a route is chosen (the upstream PROXY header, the inspection's limits) are the listener's; the
/// configuration check makes the routes agree on them.
/// </summary>
internal sealed class TcpRouteTable
{
    private readonly TcpRoute[] _routes;

    public TcpRouteTable(IReadOnlyList<TcpRoute> routes)
    {
        if (routes.Count == 0)
        {
            throw new ArgumentException("A listener has at least one route.", nameof(routes));
        }

        _routes = [.. routes];
        Single = _routes.Length == 1 && _routes[0].Matcher is null ? _routes[0] : null;
        Receiver = _routes[0].Receiver;
        InspectTimeout = _routes.Select(r => r.Config.InspectTimeout).FirstOrDefault(t => t is not null) ?? TcpRouteConfig.DefaultInspectTimeout;
        MaxInspectBytes = _routes.Select(r => r.Config.MaxInspectBytes).FirstOrDefault(b => b is not null) ?? TcpRouteConfig.DefaultMaxInspectBytes;
        foreach (TcpRoute route in _routes)
        {
            if (route.Matcher is { } matcher)
            {
                NeedsTls |= matcher.NeedsTls;
                NeedsHttp |= matcher.NeedsHttp;
                NeedsProtocol |= matcher.NeedsProtocol;
            }
        }
    }

    public IReadOnlyList<TcpRoute> Routes => _routes;

    /// <summary>The one route of a listener that has nothing to choose: no inspection, no delay.</summary>
    public TcpRoute? Single { get; }

    /// <summary>The upstream PROXY header's reader (<c>AcceptProxyProtocol</c>), the same for every route here.</summary>
    public ProxyProtocolReceiver? Receiver { get; }

    /// <summary>Some route matches on the client's first bytes: they are waited for (<see cref="InspectTimeout"/>).</summary>
    public bool NeedsProtocol { get; }

    /// <summary>Some route matches on the ClientHello (SNI, ALPN).</summary>
    public bool NeedsTls { get; }

    /// <summary>Some route matches on the first HTTP request's Host.</summary>
    public bool NeedsHttp { get; }

    public TimeSpan InspectTimeout { get; }

    public int MaxInspectBytes { get; }

    /// <summary>The chosen route, or null when none matches and there is no default.</summary>
    public TcpRoute? Select(in ClientFacts facts)
    {
        TcpRoute? best = null;
        long bestRank = -1;
        foreach (TcpRoute route in _routes)
        {
            long rank = route.Matcher?.Rank(facts) ?? 0;
            if (rank > bestRank)
            {
                best = route;
                bestRank = rank;
            }
        }

        return best;
    }
}
