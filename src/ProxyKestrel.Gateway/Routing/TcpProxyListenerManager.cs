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
/// drains open connections up to <see cref="TcpProxyConfig.DrainTimeout"/>.
/// </summary>
internal sealed class TcpProxyListenerManager : IHostedService, ITcpProxyEndpoints, IDisposable
{
    private readonly IConfiguration _section;
    private readonly IConnectionListenerFactory _listenerFactory;
    private readonly IProxyStateLookup _clusters;
    private readonly TcpProxyConnectionHandler _handler;
    private readonly TimeProvider _timeProvider;
    private readonly ILogger _logger;
    private readonly Dictionary<IPEndPoint, Listener> _listeners = [];
    private readonly Dictionary<string, TcpRouteCounter> _counters = new(StringComparer.OrdinalIgnoreCase);
    private readonly SemaphoreSlim _applyLock = new(1, 1);
    private readonly CancellationTokenSource _abortConnections = new();
    private readonly List<Task> _connections = [];
    private TcpProxyConfig _config = new();
    private IDisposable? _reloadRegistration;
    private bool _stopping;

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
    }

    public async Task StopAsync(CancellationToken cancellationToken)
    {
        _reloadRegistration?.Dispose();
        await _applyLock.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            _stopping = true;
            List<Listener> listeners;
            lock (_listeners)
            {
                listeners = [.. _listeners.Values];
                _listeners.Clear();
            }

            foreach (Listener listener in listeners)
            {
                await listener.StopAsync(_logger).ConfigureAwait(false);
            }
        }
        finally
        {
            _applyLock.Release();
        }

        Task[] open;
        lock (_connections)
        {
            open = [.. _connections];
        }

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
            TcpProxyLog.ConfigRejected(_logger, string.Join(" | ", errors));
            return;
        }

        try
        {
            await ApplyAsync(config, CancellationToken.None).ConfigureAwait(false);
        }
        catch (Exception e) when (e is IOException or System.Net.Sockets.SocketException or AddressInUseException)
        {
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

            var wanted = new Dictionary<IPEndPoint, TcpRoute>();
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
                    wanted[endPoint!] = route;
                }
            }

            // Remove listeners no longer configured (their open connections go on), update the others in place.
            List<Listener> removed = [];
            lock (_listeners)
            {
                foreach ((IPEndPoint endPoint, Listener listener) in _listeners.ToList())
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
                await listener.StopAsync(_logger).ConfigureAwait(false);
            }

            foreach ((IPEndPoint endPoint, TcpRoute route) in wanted)
            {
                IConnectionListener bound = await _listenerFactory.BindAsync(endPoint, cancellationToken).ConfigureAwait(false);
                var listener = new Listener(bound, route);
                lock (_listeners)
                {
                    _listeners[endPoint] = listener;
                }

                TcpProxyLog.RouteListening(_logger, route.RouteId, bound.EndPoint, route.Config.ClusterId);
                listener.AcceptLoop = AcceptLoopAsync(listener);
            }

            _config = config;
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
            lock (_connections)
            {
                _connections.Add(task);
            }

            _ = task.ContinueWith(
                t =>
                {
                    lock (_connections)
                    {
                        _connections.Remove(t);
                    }
                },
                CancellationToken.None,
                TaskContinuationOptions.ExecuteSynchronously,
                TaskScheduler.Default);
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

    private sealed class Listener(IConnectionListener connectionListener, TcpRoute route)
    {
        public IConnectionListener ConnectionListener { get; } = connectionListener;

        public volatile TcpRoute Route = route;

        public Task? AcceptLoop { get; set; }

        public async Task StopAsync(ILogger logger)
        {
            await ConnectionListener.UnbindAsync().ConfigureAwait(false);
            if (AcceptLoop is { } loop)
            {
                await loop.ConfigureAwait(false);
            }

            await ConnectionListener.DisposeAsync().ConfigureAwait(false);
            TcpProxyLog.RouteStopped(logger, Route.RouteId, ConnectionListener.EndPoint);
        }
    }
}
