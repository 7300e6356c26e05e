using System.Net;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Primitives;
using ProxyKestrel.Gateway.Configuration;
using Yarp.ReverseProxy.Model;

namespace ProxyKestrel.Gateway.Udp;

/// <summary>
/// Runs the UDP routes of the <c>UdpProxy</c> section: binds them at start-up (an invalid configuration fails the start
/// with every error), applies changes of the section without touching the sessions of routes that stay (an invalid
/// change is logged and refused; a changed route is rebound and its sessions end), and on shutdown refuses new
/// clients, lets existing sessions go on up to <see cref="UdpProxyConfig.DrainTimeout"/>, then ends them.
/// </summary>
internal sealed class UdpProxyService : IHostedService, IUdpProxyEndpoints, IAsyncDisposable
{
    private readonly IConfiguration _section;
    private readonly UdpRouteContext _context;
    private readonly SemaphoreSlim _lock = new(1, 1);
    private List<UdpRouteEndpoint> _listeners = [];
    private UdpProxyConfig _config = new();
    private IDisposable? _changes;
    private bool _stopped;

    /// <summary>The epoll loops (one per core), made with the first epoll listener; null on the sockets transport.</summary>
    private UdpEpollLoop[]? _loops;
    private bool _epoll;

    public UdpProxyService(IConfiguration section, UdpRouteContext context)
    {
        _section = section;
        _context = context;
    }

    public IReadOnlyList<(string RouteId, EndPoint EndPoint)> BoundEndPoints =>
        [.. Volatile.Read(ref _listeners).Select(l => (l.Route.RouteId, (EndPoint)l.LocalEndPoint))];

    /// <summary>The routes running now.</summary>
    internal UdpProxyConfig Config => Volatile.Read(ref _config);

    /// <summary>Open sessions over every route.</summary>
    internal int SessionCount => Volatile.Read(ref _listeners).Sum(l => l.SessionCount);

    public async Task StartAsync(CancellationToken cancellationToken)
    {
        var errors = new List<string>();
        UdpProxyConfig config = Load(errors);
        if (errors.Count > 0)
        {
            throw new InvalidOperationException("The UdpProxy configuration is invalid:" + Environment.NewLine + string.Join(Environment.NewLine, errors));
        }

        _epoll = config.Transport == TcpProxyTransport.Epoll || (config.Transport == TcpProxyTransport.Auto && OperatingSystem.IsLinux());
        await _lock.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            _listeners = Bind(config.Routes);
            _config = config;
            foreach (UdpRouteEndpoint listener in _listeners)
            {
                listener.Start();
            }

            _changes = ChangeToken.OnChange(_section.GetReloadToken, () => _ = ReloadAsync());
        }
        finally
        {
            _lock.Release();
        }
    }

    /// <summary>Re-reads the section; applies it when valid, else logs every error and keeps the running routes.</summary>
    internal async Task ReloadAsync()
    {
        await _lock.WaitAsync().ConfigureAwait(false);
        try
        {
            if (_stopped)
            {
                return;
            }

            var errors = new List<string>();
            UdpProxyConfig config = Load(errors);
            if (errors.Count > 0)
            {
                UdpProxyLog.ConfigRejected(_context.Logger, Environment.NewLine, string.Join(Environment.NewLine, errors));
                return;
            }

            var kept = new List<UdpRouteEndpoint>();
            var removed = new List<UdpRouteEndpoint>();
            foreach (UdpRouteEndpoint listener in _listeners)
            {
                UdpRouteConfig? next = config.Routes.FirstOrDefault(r => string.Equals(r.RouteId, listener.Route.RouteId, StringComparison.OrdinalIgnoreCase));
                (next is not null && SameRoute(next, listener.Route) ? kept : removed).Add(listener);
            }

            // The removed and changed routes stop first, so a changed route can bind its endpoint again.
            foreach (UdpRouteEndpoint listener in removed)
            {
                await listener.DisposeAsync().ConfigureAwait(false);
            }

            List<UdpRouteEndpoint> added;
            try
            {
                added = Bind(config.Routes.Where(r => !kept.Exists(k => string.Equals(k.Route.RouteId, r.RouteId, StringComparison.OrdinalIgnoreCase))));
            }
            catch (IOException e)
            {
                UdpProxyLog.ConfigRejected(_context.Logger, Environment.NewLine, e.Message);
                Volatile.Write(ref _listeners, kept);
                return;
            }

            foreach (UdpRouteEndpoint listener in added)
            {
                listener.Start();
            }

            Volatile.Write(ref _listeners, [.. kept, .. added]);
            Volatile.Write(ref _config, config);
        }
        finally
        {
            _lock.Release();
        }
    }

    public async Task StopAsync(CancellationToken cancellationToken)
    {
        await _lock.WaitAsync(CancellationToken.None).ConfigureAwait(false);
        try
        {
            if (_stopped)
            {
                return;
            }

            _stopped = true;
            _changes?.Dispose();
            foreach (UdpRouteEndpoint listener in _listeners)
            {
                listener.BeginDrain();
            }

            int open = SessionCount;
            if (open > 0 && _config.DrainTimeout > TimeSpan.Zero)
            {
                UdpProxyLog.Draining(_context.Logger, open, _config.DrainTimeout);
                await WaitForSessionsAsync(_config.DrainTimeout, cancellationToken).ConfigureAwait(false);
            }

            foreach (UdpRouteEndpoint listener in _listeners)
            {
                await listener.DisposeAsync().ConfigureAwait(false);
            }

            _listeners = [];
            if (OperatingSystem.IsLinux() && _loops is not null)
            {
                foreach (UdpEpollLoop loop in _loops)
                {
                    loop.Dispose();
                }

                _loops = null;
            }
        }
        finally
        {
            _lock.Release();
        }
    }

    public async ValueTask DisposeAsync() => await StopAsync(CancellationToken.None).ConfigureAwait(false);

    /// <summary>Waits until every session has ended (idle) or <paramref name="timeout"/> passed, checking every 100 ms of <see cref="TimeProvider"/> time.</summary>
    private async Task WaitForSessionsAsync(TimeSpan timeout, CancellationToken cancellationToken)
    {
        long start = _context.Time.GetTimestamp();
        try
        {
            while (SessionCount > 0 && _context.Time.GetElapsedTime(start) < timeout)
            {
                await Task.Delay(TimeSpan.FromMilliseconds(100), _context.Time, cancellationToken).ConfigureAwait(false);
            }
        }
        catch (OperationCanceledException)
        {
            // The host's shutdown timeout: end the sessions now.
        }
    }

    private UdpProxyConfig Load(List<string> errors)
    {
        UdpProxyConfig config = UdpProxyConfigReader.Read(_section, errors);
        UdpProxyConfigValidator.Validate(config, id => _context.Clusters.TryGetCluster(id, out ClusterState? cluster) ? cluster.Model.Config : null, errors);
        return config;
    }

    /// <summary>Binds every endpoint of <paramref name="routes"/>; on a failure unbinds what it bound and throws naming the route and endpoint.</summary>
    private List<UdpRouteEndpoint> Bind(IEnumerable<UdpRouteConfig> routes)
    {
        var bound = new List<UdpRouteEndpoint>();
        foreach (UdpRouteConfig route in routes)
        {
            for (int i = 0; i < route.Listen.Count; i++)
            {
                if (!TcpProxyConfigValidator.TryParseEndPoint(route.Listen[i], out IPEndPoint? endPoint))
                {
                    continue; // The validator reported it.
                }

                try
                {
                    bound.Add(CreateListener(route, endPoint));
                }
                catch (System.Net.Sockets.SocketException e)
                {
                    foreach (UdpRouteEndpoint listener in bound)
                    {
                        listener.DisposeAsync().AsTask().GetAwaiter().GetResult();
                    }

                    throw new IOException($"{UdpProxyConfig.SectionName}:Routes:{route.RouteId}:Listen:{i}: cannot receive on {endPoint}: {e.Message}", e);
                }
            }
        }

        return bound;
    }

    /// <summary>The transport's listener: epoll loops on Linux (unless <c>Transport</c> says Sockets), else System.Net.Sockets.</summary>
    private UdpRouteEndpoint CreateListener(UdpRouteConfig route, IPEndPoint endPoint)
    {
        if (_epoll && OperatingSystem.IsLinux())
        {
            if (_loops is null)
            {
                _loops = new UdpEpollLoop[Environment.ProcessorCount];
                for (int i = 0; i < _loops.Length; i++)
                {
                    _loops[i] = new UdpEpollLoop(i, _context.Logger);
                }
            }

            return new UdpEpollListener(route, endPoint, _context, _loops);
        }

        return new UdpSocketListener(route, endPoint, _context);
    }

    /// <summary>The transport in use: Epoll or Sockets.</summary>
    internal string TransportName => _epoll && OperatingSystem.IsLinux() ? "Epoll" : "Sockets";

    private static bool SameRoute(UdpRouteConfig a, UdpRouteConfig b) =>
        a.Listen.SequenceEqual(b.Listen, StringComparer.OrdinalIgnoreCase)
        && string.Equals(a.ClusterId, b.ClusterId, StringComparison.OrdinalIgnoreCase)
        && a.IdleTimeout == b.IdleTimeout
        && a.MaxSessions == b.MaxSessions
        && SameAccept(a.AcceptProxyProtocol, b.AcceptProxyProtocol);

    private static bool SameAccept(ProxyProtocolOptions? a, ProxyProtocolOptions? b) =>
        a is null || b is null
            ? a is null && b is null
            : a.TrustedNetworks.SequenceEqual(b.TrustedNetworks, StringComparer.OrdinalIgnoreCase)
                && a.UntrustedPeers == b.UntrustedPeers
                && a.Mode == b.Mode
                && a.MaxHeaderSize == b.MaxHeaderSize
                && a.AllowedVersions == b.AllowedVersions;
}
