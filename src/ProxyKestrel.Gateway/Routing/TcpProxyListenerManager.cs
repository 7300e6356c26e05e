using System.Net;
using Microsoft.AspNetCore.Connections;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Primitives;
using ProxyKestrel.Gateway.Configuration;
using Yarp.ReverseProxy;

namespace ProxyKestrel.Gateway.Routing;

/// <summary>
/// Binds the TCP routes' listeners (Kestrel's socket transport), accepts connections and hands them to the handler.
/// On a configuration change it adds, changes and removes listeners without touching open connections; an invalid
/// change is refused, every error logged, and the running configuration stays. On shutdown it stops accepting and
/// drains open connections up to <see cref="TcpProxyConfig.DrainTimeout"/>. The drain starts in the host's
/// <c>StoppingAsync</c> phase, before Kestrel stops, so HTTP endpoints (readiness, metrics) keep answering meanwhile.
/// </summary>
internal sealed class TcpProxyListenerManager : IHostedLifecycleService, ITcpProxyEndpoints, IDisposable
{
    private readonly IConfiguration _section;
    private readonly IConnectionListenerFactory _listenerFactory;
    private readonly IProxyStateLookup _clusters;
    private readonly TcpProxyConnectionHandler _handler;
    private readonly TimeProvider _timeProvider;
    private readonly ILogger _logger;
    private readonly Dictionary<ListenKey, Listener> _listeners = [];
    private readonly Dictionary<string, TcpRouteCounter> _counters = new(StringComparer.OrdinalIgnoreCase);
    private readonly SemaphoreSlim _applyLock = new(1, 1);
    private readonly CancellationTokenSource _abortConnections = new();
    private readonly TaskSet _connections = new();
    private TcpProxyConfig _config = new();
    private IDisposable? _reloadRegistration;
    private bool _stopping;
    private bool _started;
    private volatile string? _configError;
    private readonly Lock _stopLock = new();
    private Task? _stopTask;

    public TcpProxyListenerManager(
        IConfiguration section,
        IConnectionListenerFactory listenerFactory,
        IProxyStateLookup clusters,
        TcpProxyConnectionHandler handler,
        TimeProvider timeProvider,
        ILogger logger)
    {
        _section = section;
        _listenerFactory = listenerFactory;
        _clusters = clusters;
        _handler = handler;
        _timeProvider = timeProvider;
        _logger = logger;
    }

    public IReadOnlyList<(string RouteId, EndPoint EndPoint)> BoundEndPoints
    {
        get
        {
            lock (_listeners)
            {
                return [.. _listeners.Values.Select(l => (l.Route.RouteId, l.ConnectionListener.EndPoint))];
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
        TcpProxyConfig config = Load(errors);
        if (errors.Count > 0)
        {
            throw new InvalidOperationException("The TcpProxy configuration is invalid:" + Environment.NewLine + string.Join(Environment.NewLine, errors));
        }

        await ApplyAsync(config, cancellationToken).ConfigureAwait(false);
        _reloadRegistration = ChangeToken.OnChange(_section.GetReloadToken, () => _ = ReloadAsync());
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
        _reloadRegistration?.Dispose();
        List<Listener> listeners = [];
        await _applyLock.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            _stopping = true;
            lock (_listeners)
            {
                listeners = [.. _listeners.Values];
                _listeners.Clear();
            }

            foreach (Listener listener in listeners)
            {
                await listener.UnbindAsync(_logger).ConfigureAwait(false);
            }
        }
        finally
        {
            _applyLock.Release();
        }

        try
        {
            await DrainAsync(cancellationToken).ConfigureAwait(false);
        }
        finally
        {
            // Only now: disposing a listener frees the transport's memory pool, which its open connections still use.
            foreach (Listener listener in listeners)
            {
                await listener.ConnectionListener.DisposeAsync().ConfigureAwait(false);
            }
        }
    }

    private async Task DrainAsync(CancellationToken cancellationToken)
    {
        Task[] open = _connections.Snapshot();
        TcpProxyLog.Draining(_logger, _config.DrainTimeout, open.Length);
        try
        {
            await Task.WhenAll(open).WaitAsync(_config.DrainTimeout, _timeProvider, cancellationToken).ConfigureAwait(false);
        }
        catch (Exception e) when (e is TimeoutException or OperationCanceledException)
        {
            await _abortConnections.CancelAsync().ConfigureAwait(false);
            await Task.WhenAll(open).WaitAsync(TimeSpan.FromSeconds(5), _timeProvider, CancellationToken.None).ConfigureAwait(false);
        }
    }

    public void Dispose()
    {
        _reloadRegistration?.Dispose();
        _abortConnections.Dispose();
        _applyLock.Dispose();
    }

    private TcpProxyConfig Load(List<string> errors)
    {
        TcpProxyConfig config = TcpProxyConfigReader.Read(_section, errors);
        TcpProxyConfigValidator.Validate(config, id => _clusters.TryGetCluster(id, out _), errors);
        return config;
    }

    private async Task ReloadAsync()
    {
        var errors = new List<string>();
        TcpProxyConfig config = Load(errors);
        if (errors.Count > 0)
        {
            _configError = string.Join(" | ", errors);
            TcpProxyLog.ConfigRejected(_logger, _configError);
            return;
        }

        try
        {
            await ApplyAsync(config, CancellationToken.None).ConfigureAwait(false);
            _configError = null;
        }
        catch (Exception e) when (e is IOException or System.Net.Sockets.SocketException or AddressInUseException)
        {
            _configError = e.Message;
            TcpProxyLog.ConfigRejected(_logger, e.Message);
        }
    }

    private async Task ApplyAsync(TcpProxyConfig config, CancellationToken cancellationToken)
    {
        await _applyLock.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            if (_stopping)
            {
                return;
            }

            var wanted = new Dictionary<ListenKey, TcpRoute>();
            foreach (TcpRouteConfig routeConfig in config.Routes)
            {
                ProxyProtocolReceiver? receiver = null;
                if (routeConfig.AcceptProxyProtocol is { } accept)
                {
                    _ = ProxyProtocolReceiver.TryCreate(accept, $"TcpProxy:Routes:{routeConfig.RouteId}:AcceptProxyProtocol", [], out receiver);
                }

                var route = new TcpRoute(routeConfig, receiver);
                foreach (string listen in routeConfig.Listen)
                {
                    _ = TcpProxyConfigValidator.TryParseEndPoint(listen, out IPEndPoint? endPoint);
                    wanted[ListenKey.For(endPoint!, route.RouteId)] = route;
                }
            }

            // Remove listeners no longer configured (their open connections go on), update the others in place.
            List<Listener> removed = [];
            lock (_listeners)
            {
                foreach ((ListenKey endPoint, Listener listener) in _listeners.ToList())
                {
                    if (wanted.TryGetValue(endPoint, out TcpRoute? route))
                    {
                        listener.Route = route;
                        wanted.Remove(endPoint);
                    }
                    else
                    {
                        removed.Add(listener);
                        _listeners.Remove(endPoint);
                    }
                }
            }

            foreach (Listener listener in removed)
            {
                await listener.UnbindAsync(_logger).ConfigureAwait(false);
                _ = listener.DisposeWhenIdleAsync();
            }

            foreach ((ListenKey endPoint, TcpRoute route) in wanted)
            {
                IConnectionListener bound = await _listenerFactory.BindAsync(endPoint.EndPoint, cancellationToken).ConfigureAwait(false);
                var listener = new Listener(bound, route);
                lock (_listeners)
                {
                    _listeners[endPoint] = listener;
                }

                TcpProxyLog.RouteListening(_logger, route.RouteId, bound.EndPoint, route.Config.ClusterId);
                listener.AcceptLoop = AcceptLoopAsync(listener);
            }

            Volatile.Write(ref _config, config);
            TcpProxyLog.ConfigApplied(_logger, config.Routes.Count);
        }
        finally
        {
            _applyLock.Release();
        }
    }

    private async Task AcceptLoopAsync(Listener listener)
    {
        while (true)
        {
            ConnectionContext? connection;
            try
            {
                connection = await listener.ConnectionListener.AcceptAsync().ConfigureAwait(false);
            }
            catch (ObjectDisposedException)
            {
                return;
            }

            if (connection is null)
            {
                return;
            }

            TcpRoute route = listener.Route;
            TcpRouteCounter counter;
            lock (_counters)
            {
                if (!_counters.TryGetValue(route.RouteId, out counter!))
                {
                    counter = new TcpRouteCounter();
                    _counters[route.RouteId] = counter;
                }
            }

            Task task = RunConnectionAsync(connection, route, counter);
            _connections.Add(task);
            listener.Track(task);
        }
    }

    private async Task RunConnectionAsync(ConnectionContext connection, TcpRoute route, TcpRouteCounter counter)
    {
        await Task.Yield();
        try
        {
            await _handler.HandleAsync(connection, route, counter, _abortConnections.Token).ConfigureAwait(false);
        }
        catch (Exception e) when (e is IOException or System.Net.Sockets.SocketException or OperationCanceledException or ConnectionResetException or ConnectionAbortedException)
        {
            connection.Abort();
        }
        finally
        {
            await connection.DisposeAsync().ConfigureAwait(false);
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

    private sealed class Listener(IConnectionListener connectionListener, TcpRoute route)
    {
        private readonly TaskSet _connections = new();

        public IConnectionListener ConnectionListener { get; } = connectionListener;

        public volatile TcpRoute Route = route;

        public Task? AcceptLoop { get; set; }

        /// <summary>Remembers a connection accepted by this listener until it ends.</summary>
        public void Track(Task connection) => _connections.Add(connection);

        /// <summary>Stops accepting; connections already accepted go on.</summary>
        public async Task UnbindAsync(ILogger logger)
        {
            await ConnectionListener.UnbindAsync().ConfigureAwait(false);
            if (AcceptLoop is { } loop)
            {
                await loop.ConfigureAwait(false);
            }

            TcpProxyLog.RouteStopped(logger, Route.RouteId, ConnectionListener.EndPoint);
        }

        /// <summary>Disposes the listener once its connections have ended (they use its memory pool until then).</summary>
        public async Task DisposeWhenIdleAsync()
        {
            Task[] open = _connections.Snapshot();
            try
            {
                await Task.WhenAll(open).ConfigureAwait(false);
            }
            catch (Exception)
            {
                // A connection failed; it has ended all the same.
            }
            finally
            {
                await ConnectionListener.DisposeAsync().ConfigureAwait(false);
            }
        }
    }
}
