using System.Net;
using Microsoft.AspNetCore.Connections;
using ProxyKestrel.Gateway.Lifecycle;
using ProxyKestrel.Gateway.Routing;

namespace ProxyKestrel.Gateway.Transports.Sockets;

/// <summary>A Kestrel connection listener of a route, its accept loop and the tasks of its connections.</summary>
internal sealed class SocketsRouteListener : ITcpRouteListener
{
    private readonly IConnectionListener _listener;
    private readonly TcpConnectionLifecycle _lifecycle;
    private readonly TaskSet _connections = new();
    private readonly CancellationTokenSource _abort = new();
    private readonly Task _acceptLoop;
    private volatile TcpRouteTable _routes;

    public SocketsRouteListener(IConnectionListener listener, TcpRouteTable routes, TcpConnectionLifecycle lifecycle)
    {
        _listener = listener;
        _routes = routes;
        _lifecycle = lifecycle;
        _acceptLoop = AcceptLoopAsync();
    }

    public EndPoint EndPoint => _listener.EndPoint;

    public TcpRouteTable Routes
    {
        get => _routes;
        set => _routes = value;
    }

    public async Task UnbindAsync()
    {
        await _listener.UnbindAsync().ConfigureAwait(false);
        await _acceptLoop.ConfigureAwait(false);
    }

    public async Task WhenConnectionsEndedAsync()
    {
        try
        {
            await Task.WhenAll(_connections.Snapshot()).ConfigureAwait(false);
        }
        catch (Exception)
        {
            // A connection failed; it has ended all the same.
        }
    }

    public void AbortConnections()
    {
        try
        {
            _abort.Cancel();
        }
        catch (ObjectDisposedException)
        {
            // Already disposed: nothing is open.
        }
    }

    /// <summary>Frees the transport's memory pool: only once the connections, which use it, have ended.</summary>
    public async ValueTask DisposeAsync()
    {
        await _listener.DisposeAsync().ConfigureAwait(false);
        _abort.Dispose();
    }

    private async Task AcceptLoopAsync()
    {
        await Task.Yield();
        while (true)
        {
            ConnectionContext? connection;
            try
            {
                connection = await _listener.AcceptAsync().ConfigureAwait(false);
            }
            catch (ObjectDisposedException)
            {
                return;
            }

            if (connection is null)
            {
                return;
            }

            _connections.Add(RunConnectionAsync(connection, _routes));
        }
    }

    private async Task RunConnectionAsync(ConnectionContext connection, TcpRouteTable routes)
    {
        await Task.Yield();
        try
        {
            var io = new SocketsConnectionIo(connection, _lifecycle.TimeProvider, _abort.Token);
            _lifecycle.Run(io, routes);
            await io.WhenEnded.ConfigureAwait(false);
        }
        finally
        {
            await connection.DisposeAsync().ConfigureAwait(false);
        }
    }
}
