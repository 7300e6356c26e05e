using Microsoft.Extensions.Primitives;

namespace ProxyKestrel.Gateway.Configuration;

/// <summary>
/// TCP routes built in code (<c>AddTcpProxy().LoadFromMemory(routes)</c>), changed at run time with
/// <see cref="Update"/>: like YARP's <c>InMemoryConfigProvider</c> for HTTP routes, with the checks of the
/// <c>TcpProxy</c> configuration section.
/// </summary>
/// <remarks>
/// The gateway applies a new set of routes as it applies a changed configuration file: listeners of new endpoints are
/// bound first, kept endpoints take their new settings for new connections, removed ones stop accepting, and open
/// connections go on whatever changed. What this provider cannot check itself (that each <c>ClusterId</c> is one of
/// YARP's clusters, that route ids and endpoints are not used by another provider too, that every endpoint can be
/// bound) is checked when the gateway applies the routes: if that fails, the change is refused as a whole, logged
/// (event 108) and reported by the readiness check, and the running routes keep serving. A route naming a cluster
/// YARP does not have yet is applied once YARP loads that cluster.
/// </remarks>
public sealed class InMemoryTcpProxyConfigProvider : ITcpProxyConfigProvider
{
    /// <summary>The prefix of the keys in the errors about these routes, e.g. <c>LoadFromMemory:Routes:smtp:Listen:0</c>.</summary>
    internal const string RoutesPath = "LoadFromMemory:Routes";

    private volatile Snapshot _snapshot;

    /// <summary>Creates the provider with <paramref name="routes"/>.</summary>
    /// <exception cref="ArgumentException">A route is invalid; the message lists every error.</exception>
    public InMemoryTcpProxyConfigProvider(IReadOnlyList<TcpRouteConfig> routes)
    {
        _snapshot = new Snapshot(Checked(routes));
    }

    /// <inheritdoc/>
    public ITcpProxyConfig GetConfig() => _snapshot;

    /// <summary>
    /// Replaces the routes with <paramref name="routes"/> (the whole set: a route left out is removed) and signals the
    /// gateway, which applies them in the background. Invalid routes are refused here and nothing changes.
    /// </summary>
    /// <exception cref="ArgumentException">A route is invalid; the message lists every error. The routes stay as they were.</exception>
    public void Update(IReadOnlyList<TcpRouteConfig> routes)
    {
        var next = new Snapshot(Checked(routes));
        Snapshot previous = Interlocked.Exchange(ref _snapshot, next);
        previous.SignalChange();
    }

    private static TcpRouteConfig[] Checked(IReadOnlyList<TcpRouteConfig> routes)
    {
        ArgumentNullException.ThrowIfNull(routes);
        TcpRouteConfig[] copy = [.. routes];
        var errors = new List<string>();
        TcpProxyConfigValidator.ValidateRoutes([.. copy.Select(route => (route, RoutesPath))], clusterExists: null, errors);
        if (errors.Count > 0)
        {
            throw new ArgumentException(
                "The TCP routes are invalid, nothing changed:" + Environment.NewLine + string.Join(Environment.NewLine, errors),
                nameof(routes));
        }

        return copy;
    }

    /// <summary>One set of routes; its change token fires when <see cref="Update"/> replaces it.</summary>
    [System.Diagnostics.CodeAnalysis.SuppressMessage(
        "Reliability",
        "CA1001:Types that own disposable fields should be disposable",
        Justification = "The source has no timer; readers may still register on its token after it fired, so it is left to the GC.")]
    private sealed class Snapshot : ITcpProxyConfig
    {
        private readonly CancellationTokenSource _changed = new();

        public Snapshot(IReadOnlyList<TcpRouteConfig> routes)
        {
            Routes = routes;
            ChangeToken = new CancellationChangeToken(_changed.Token);
        }

        public IReadOnlyList<TcpRouteConfig> Routes { get; }

        public IChangeToken ChangeToken { get; }

        public void SignalChange() => _changed.Cancel();
    }
}
