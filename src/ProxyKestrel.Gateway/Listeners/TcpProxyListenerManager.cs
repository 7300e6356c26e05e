using System.Net;
using Microsoft.AspNetCore.Connections;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using ProxyKestrel.Gateway.Configuration;
using Yarp.ReverseProxy;

using ProxyKestrel.Gateway.Transports;

using ProxyKestrel.Gateway.Routing;

using ProxyKestrel.Gateway.Diagnostics;

namespace ProxyKestrel.Gateway.Listeners;

// Over 400 lines on purpose: a reload is one transaction (validate every provider's routes, bind the new endpoints,
// publish the new routes, unbind the removed ones, drain them) and reads best as one file, top to bottom.

/// <summary>
/// Binds the TCP routes' listeners on the configured transport (<see cref="Transports.Sockets.SocketsRouteTransport"/> or the epoll
/// loops), which accept and relay the connections.
/// The routes come from every registered <see cref="ITcpProxyConfigProvider"/> (the <c>TcpProxy</c> section of
/// <c>LoadFromConfig</c>, the routes of <c>LoadFromMemory</c>, an application's own), served together; the gateway-wide
/// settings (<c>Transport</c>, <c>DrainTimeout</c>) from the first configuration section, else their defaults.
/// On a change of any provider it adds, changes and removes listeners without touching open connections; an invalid
/// change is refused, every error logged, and the running configuration stays. A change applies all or nothing: its
/// new endpoints are bound first, and if one cannot be (the port is taken), the change is refused and the running
/// listeners go on unchanged. On shutdown it stops accepting and
/// drains open connections up to <see cref="TcpProxyConfig.DrainTimeout"/>. The drain starts in the host's
/// <c>StoppingAsync</c> phase, before Kestrel stops, so HTTP endpoints (readiness, metrics) keep answering meanwhile.
/// </summary>
internal sealed class TcpProxyListenerManager : IHostedLifecycleService, ITcpProxyEndpoints, IAsyncDisposable
{
    private readonly ITcpProxyConfigProvider[] _providers;
    private readonly Func<TcpProxyTransport, ITcpRouteTransport> _createTransport;
    private readonly IProxyStateLookup _clusters;
    private readonly TimeProvider _timeProvider;
    private readonly ILogger _logger;
    private readonly Dictionary<ListenKey, ITcpRouteListener> _listeners = [];

    /// <summary>Listeners removed by a reload whose connections have not all ended yet (drained on shutdown too).</summary>
    private readonly HashSet<ITcpRouteListener> _retired = [];
    private readonly Dictionary<string, TcpRouteCounter> _counters = new(StringComparer.OrdinalIgnoreCase);
    private readonly SemaphoreSlim _applyLock = new(1, 1);
    private TcpProxyConfig _config = new();
    private ITcpRouteTransport? _transport;
    private readonly List<IDisposable> _changeRegistrations = [];
    private bool _stopping;
    private bool _started;
    private volatile string? _configError;
    private readonly Lock _stopLock = new();
    private Task? _stopTask;

    public TcpProxyListenerManager(
        IEnumerable<ITcpProxyConfigProvider> providers,
        Func<TcpProxyTransport, ITcpRouteTransport> createTransport,
        IProxyStateLookup clusters,
        TimeProvider timeProvider,
        ILogger logger)
    {
        _providers = [.. providers];
        _createTransport = createTransport;
        _clusters = clusters;
        _timeProvider = timeProvider;
        _logger = logger;
    }

    public IReadOnlyList<(string RouteId, EndPoint EndPoint)> BoundEndPoints
    {
        get
        {
            lock (_listeners)
            {
                return [.. _listeners.Values.SelectMany(l => l.Routes.Routes.Select(r => (r.RouteId, l.EndPoint)))];
            }
        }
    }

    /// <summary>True between a successful start and the start of the shutdown.</summary>
    internal bool IsRunning => Volatile.Read(ref _started);

    /// <summary>The errors of the last configuration change if it was refused; null once a change applies.</summary>
    internal string? ConfigError => _configError;

    /// <summary>The routes of the running configuration.</summary>
    internal IReadOnlyList<TcpRouteConfig> Routes => Volatile.Read(ref _config).Routes;

    public async Task StartAsync(CancellationToken cancellationToken)
    {
        var errors = new List<string>();
        ITcpProxyConfig?[] snapshots = ReadProviders(errors);
        TcpProxyConfig config = Load(snapshots, errors, out Dictionary<string, string> prefixes);
        if (errors.Count > 0)
        {
            throw new InvalidOperationException("The TcpProxy configuration is invalid:" + Environment.NewLine + string.Join(Environment.NewLine, errors));
        }

        _transport = _createTransport(config.Transport);
        TcpProxyLog.TransportSelected(_logger, _transport.Name, config.Transport);
        await _applyLock.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            await ApplyCoreAsync(config, prefixes, cancellationToken).ConfigureAwait(false);
            ListenForChanges(snapshots);
        }
        finally
        {
            _applyLock.Release();
        }

        Volatile.Write(ref _started, true);
    }

    /// <summary>YARP applied new clusters: re-read the routes (a route may name a cluster that just arrived).</summary>
    public void OnClustersChanged()
    {
        if (Volatile.Read(ref _started))
        {
            _ = ReloadAsync();
        }
    }

    public Task StartingAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    public Task StartedAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    /// <summary>Stops accepting and drains before the other services (Kestrel) stop.</summary>
    public Task StoppingAsync(CancellationToken cancellationToken) => StopAsync(cancellationToken);

    public Task StoppedAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    /// <summary>Stops accepting and drains; the second call (StoppingAsync then StopAsync) waits for the first.</summary>
    public Task StopAsync(CancellationToken cancellationToken)
    {
        lock (_stopLock)
        {
            return _stopTask ??= StopCoreAsync(cancellationToken);
        }
    }

    private async Task StopCoreAsync(CancellationToken cancellationToken)
    {
        Volatile.Write(ref _started, false);
        List<ITcpRouteListener> listeners = [];
        await _applyLock.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            _stopping = true;
            DisposeChangeRegistrations();
            List<ITcpRouteListener> bound;
            lock (_listeners)
            {
                bound = [.. _listeners.Values];
                listeners = [.. bound, .. _retired];
                _listeners.Clear();
                _retired.Clear();
            }

            foreach (ITcpRouteListener listener in bound)
            {
                await listener.UnbindAsync().ConfigureAwait(false);
                foreach (TcpRoute route in listener.Routes.Routes)
                {
                    TcpProxyLog.RouteStopped(_logger, route.RouteId, listener.EndPoint);
                }
            }
        }
        finally
        {
            _applyLock.Release();
        }

        try
        {
            await DrainAsync(listeners, cancellationToken).ConfigureAwait(false);
        }
        finally
        {
            // Only now: a listener's resources (memory pool, event loop) serve its connections until they end.
            foreach (ITcpRouteListener listener in listeners)
            {
                await listener.DisposeAsync().ConfigureAwait(false);
            }
        }
    }

    private async Task DrainAsync(List<ITcpRouteListener> listeners, CancellationToken cancellationToken)
    {
        int open;
        lock (_counters)
        {
            open = _counters.Values.Sum(c => c.Open);
        }

        TcpProxyLog.Draining(_logger, _config.DrainTimeout, open);
        Task ended = Task.WhenAll(listeners.Select(l => l.WhenConnectionsEndedAsync()));
        try
        {
            await ended.WaitAsync(_config.DrainTimeout, _timeProvider, cancellationToken).ConfigureAwait(false);
        }
        catch (Exception e) when (e is TimeoutException or OperationCanceledException)
        {
            foreach (ITcpRouteListener listener in listeners)
            {
                listener.AbortConnections();
            }

            try
            {
                await ended.WaitAsync(TimeSpan.FromSeconds(5), _timeProvider, CancellationToken.None).ConfigureAwait(false);
            }
            catch (TimeoutException)
            {
                // Closed but not yet ended after 5 s: the listeners are disposed all the same.
            }
        }
    }

    public async ValueTask DisposeAsync()
    {
        DisposeChangeRegistrations();
        if (_transport is { } transport)
        {
            await transport.DisposeAsync().ConfigureAwait(false);
        }

        _applyLock.Dispose();
    }

    /// <summary>The current snapshot of each provider (null where <c>GetConfig</c> threw, which is an error).</summary>
    private ITcpProxyConfig?[] ReadProviders(List<string> errors)
    {
        var snapshots = new ITcpProxyConfig?[_providers.Length];
        for (int i = 0; i < _providers.Length; i++)
        {
            try
            {
                snapshots[i] = _providers[i].GetConfig();
            }
            catch (Exception e)
            {
                errors.Add($"{RoutesPathOf(_providers[i])}: {_providers[i].GetType().Name}.GetConfig() failed: {e.Message}");
            }
        }

        return snapshots;
    }

    /// <summary>
    /// Merges the snapshots into one configuration and checks it: every route of every provider (ids and endpoints
    /// unique across all), each cluster against YARP's, the settings of the first configuration section.
    /// </summary>
    private TcpProxyConfig Load(ITcpProxyConfig?[] snapshots, List<string> errors, out Dictionary<string, string> prefixes)
    {
        prefixes = new Dictionary<string, string>(StringComparer.OrdinalIgnoreCase);
        TcpProxyConfig? settings = null;
        var routes = new List<(TcpRouteConfig Route, string Prefix)>();
        for (int i = 0; i < snapshots.Length; i++)
        {
            if (snapshots[i] is not { } snapshot)
            {
                continue;
            }

            if (snapshot is ConfigurationSnapshot section)
            {
                errors.AddRange(section.Errors);
                settings ??= section.Config;
            }

            string prefix = RoutesPathOf(_providers[i]);
            foreach (TcpRouteConfig route in snapshot.Routes ?? [])
            {
                routes.Add((route, prefix));
                if (route?.RouteId is { } id)
                {
                    prefixes.TryAdd(id, prefix);
                }
            }
        }

        settings ??= new TcpProxyConfig();
        TcpProxyConfigValidator.ValidateSettings(settings, errors);
        TcpProxyConfigValidator.ValidateRoutes(routes, id => _clusters.TryGetCluster(id, out _), errors);
        return settings with { Routes = [.. routes.Select(r => r.Route)] };
    }

    private static string RoutesPathOf(ITcpProxyConfigProvider provider) => provider switch
    {
        ConfigurationTcpProxyConfigProvider section => section.RoutesPath,
        InMemoryTcpProxyConfigProvider => InMemoryTcpProxyConfigProvider.RoutesPath,
        _ => $"{provider.GetType().Name}:Routes",
    };

    /// <summary>
    /// Reloads when one of <paramref name="snapshots"/> is outdated (called under the apply lock, after each read). A
    /// token that has already fired calls back at once, so no change is missed between reading and listening.
    /// </summary>
    private void ListenForChanges(ITcpProxyConfig?[] snapshots)
    {
        DisposeChangeRegistrations();
        foreach (ITcpProxyConfig? snapshot in snapshots)
        {
            if (snapshot?.ChangeToken is { } token)
            {
                // Off the thread that signalled (an Update caller, the file watcher): the reload binds sockets.
                _changeRegistrations.Add(token.RegisterChangeCallback(static state => _ = Task.Run(((TcpProxyListenerManager)state!).ReloadAsync), this));
            }
        }
    }

    private void DisposeChangeRegistrations()
    {
        foreach (IDisposable registration in _changeRegistrations)
        {
            registration.Dispose();
        }

        _changeRegistrations.Clear();
    }

    /// <summary>
    /// Reads every provider again and applies the result, all or nothing; reloads run one at a time, each reading the
    /// providers once it has the apply lock, so the last one to run applies the newest routes.
    /// </summary>
    private async Task ReloadAsync()
    {
        try
        {
            await _applyLock.WaitAsync().ConfigureAwait(false);
        }
        catch (ObjectDisposedException)
        {
            return;
        }

        try
        {
            if (_stopping)
            {
                return;
            }

            var errors = new List<string>();
            ITcpProxyConfig?[] snapshots = ReadProviders(errors);
            ListenForChanges(snapshots);
            TcpProxyConfig config = Load(snapshots, errors, out Dictionary<string, string> prefixes);
            TcpProxyTransport running = Volatile.Read(ref _config).Transport;
            if (config.Transport != running)
            {
                errors.Add($"{TcpProxyConfig.SectionName}:Transport: changed from {running} to {config.Transport} while running; allowed: the value the gateway started with (restart to change the transport).");
            }

            if (errors.Count > 0)
            {
                _configError = string.Join(" | ", errors);
                TcpProxyLog.ConfigRejected(_logger, _configError);
                return;
            }

            try
            {
                await ApplyCoreAsync(config, prefixes, CancellationToken.None).ConfigureAwait(false);
                _configError = null;
            }
            catch (Exception e) when (e is IOException or System.Net.Sockets.SocketException or AddressInUseException)
            {
                _configError = e.Message;
                TcpProxyLog.ConfigRejected(_logger, e.Message);
            }
        }
        finally
        {
            _applyLock.Release();
        }
    }

    private TcpRouteCounter CounterOf(string routeId)
    {
        lock (_counters)
        {
            if (!_counters.TryGetValue(routeId, out TcpRouteCounter? counter))
            {
                counter = new TcpRouteCounter();
                _counters[routeId] = counter;
            }

            return counter;
        }
    }

    /// <summary>Applies a checked configuration; the caller holds the apply lock.</summary>
    private async Task ApplyCoreAsync(TcpProxyConfig config, Dictionary<string, string> prefixes, CancellationToken cancellationToken)
    {
        if (_stopping)
        {
            return;
        }

        var sharing = new Dictionary<ListenKey, List<TcpRoute>>();
        foreach (TcpRouteConfig routeConfig in config.Routes)
        {
            ProxyProtocolReceiver? receiver = null;
            if (routeConfig.AcceptProxyProtocol is { } accept)
            {
                _ = ProxyProtocolReceiver.TryCreate(accept, $"{prefixes[routeConfig.RouteId]}:{routeConfig.RouteId}:AcceptProxyProtocol", [], out receiver);
            }

            var route = new TcpRoute(routeConfig, receiver, CounterOf(routeConfig.RouteId));
            foreach (string listen in routeConfig.Listen)
            {
                _ = TcpProxyConfigValidator.TryParseEndPoint(listen, out IPEndPoint? endPoint);
                ListenKey key = ListenKey.For(endPoint!, route.RouteId);
                if (!sharing.TryGetValue(key, out List<TcpRoute>? routes))
                {
                    routes = [];
                    sharing[key] = routes;
                }

                if (!routes.Contains(route))
                {
                    routes.Add(route);
                }
            }
        }

        // Routes with the same endpoint share one listener, which chooses among them per connection.
        var wanted = sharing.ToDictionary(pair => pair.Key, pair => new TcpRouteTable(pair.Value));

        // All or nothing: the new endpoints are bound first, while the running listeners go on unchanged. Only
        // once every one is bound do the kept listeners take their new routes and the removed ones stop (their
        // open connections go on); if one cannot be bound, the new ones are closed again and nothing changed.
        List<(ListenKey Key, ITcpRouteListener Listener, TcpRouteTable Routes)> kept = [];
        List<(ListenKey Key, ITcpRouteListener Listener)> removed = [];
        lock (_listeners)
        {
            foreach ((ListenKey key, ITcpRouteListener listener) in _listeners)
            {
                if (wanted.Remove(key, out TcpRouteTable? routes))
                {
                    kept.Add((key, listener, routes));
                }
                else
                {
                    removed.Add((key, listener));
                }
            }
        }

        List<(ListenKey Key, ITcpRouteListener Listener)> added = await BindAllAsync(wanted, prefixes, cancellationToken).ConfigureAwait(false);
        lock (_listeners)
        {
            foreach ((_, ITcpRouteListener listener, TcpRouteTable routes) in kept)
            {
                listener.Routes = routes;
            }

            foreach ((ListenKey key, ITcpRouteListener listener) in added)
            {
                _listeners[key] = listener;
            }
        }

        foreach ((_, ITcpRouteListener listener) in added)
        {
            foreach (TcpRoute route in listener.Routes.Routes)
            {
                TcpProxyLog.RouteListening(_logger, route.RouteId, listener.EndPoint, route.Config.ClusterId);
            }
        }

        // The new routes are published before the removed listeners stop: every route of the published set has all
        // its listeners bound at every moment, so readiness never sees a route whose listener is already gone (it
        // answered 503 for a removed route between its listener's close and the switch).
        Volatile.Write(ref _config, config);
        foreach ((ListenKey key, ITcpRouteListener listener) in removed)
        {
            // Listed as bound until the socket is closed, so a listed endpoint is never a refused one.
            await listener.UnbindAsync().ConfigureAwait(false);
            lock (_listeners)
            {
                _listeners.Remove(key);
                _retired.Add(listener);
            }

            foreach (TcpRoute route in listener.Routes.Routes)
            {
                TcpProxyLog.RouteStopped(_logger, route.RouteId, listener.EndPoint);
            }

            _ = DisposeWhenIdleAsync(listener);
        }

        TcpProxyLog.ConfigApplied(_logger, config.Routes.Count);
    }

    /// <summary>
    /// Binds every endpoint of <paramref name="wanted"/>, or none: when one fails, the ones already bound stop again
    /// (a connection they accepted meanwhile goes on) and the failure is thrown, naming the route and the endpoint.
    /// </summary>
    private async Task<List<(ListenKey Key, ITcpRouteListener Listener)>> BindAllAsync(
        Dictionary<ListenKey, TcpRouteTable> wanted, Dictionary<string, string> prefixes, CancellationToken cancellationToken)
    {
        List<(ListenKey Key, ITcpRouteListener Listener)> bound = [];
        foreach ((ListenKey key, TcpRouteTable routes) in wanted)
        {
            TcpRoute route = routes.Routes[0];
            try
            {
                bound.Add((key, await _transport!.BindAsync(key.EndPoint, routes, cancellationToken).ConfigureAwait(false)));
            }
            catch (Exception e) when (e is IOException or System.Net.Sockets.SocketException or AddressInUseException or OperationCanceledException)
            {
                foreach ((_, ITcpRouteListener listener) in bound)
                {
                    await listener.UnbindAsync().ConfigureAwait(false);
                    lock (_listeners)
                    {
                        _retired.Add(listener);
                    }

                    _ = DisposeWhenIdleAsync(listener);
                }

                if (e is OperationCanceledException)
                {
                    throw;
                }

                throw new IOException($"{prefixes[route.RouteId]}:{route.RouteId}:Listen: cannot listen on {key.EndPoint}: {e.Message}", e);
            }
        }

        return bound;
    }

    /// <summary>Disposes a removed listener once its connections have ended (unless the shutdown took it over).</summary>
    private async Task DisposeWhenIdleAsync(ITcpRouteListener listener)
    {
        await listener.WhenConnectionsEndedAsync().ConfigureAwait(false);
        bool mine;
        lock (_listeners)
        {
            mine = _retired.Remove(listener);
        }

        if (mine)
        {
            await listener.DisposeAsync().ConfigureAwait(false);
        }
    }

    /// <summary>
    /// A listener's identity across reloads: its configured endpoint, plus the route id when the port is 0 (each such
    /// route gets a port of its own, so two routes on <c>127.0.0.1:0</c> are two listeners).
    /// </summary>
    private readonly record struct ListenKey(IPEndPoint EndPoint, string? RouteId)
    {
        public static ListenKey For(IPEndPoint endPoint, string routeId) => new(endPoint, endPoint.Port == 0 ? routeId : null);
    }
}
