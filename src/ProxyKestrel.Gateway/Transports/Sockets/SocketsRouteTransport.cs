using System.Net;
using Microsoft.AspNetCore.Connections;
using ProxyKestrel.Gateway.Lifecycle;
using ProxyKestrel.Gateway.Routing;

namespace ProxyKestrel.Gateway.Transports.Sockets;

/// <summary>
/// The portable transport: Kestrel's socket transport accepts (with the relay's 64 KiB memory pool), one task per
/// connection runs <see cref="TcpConnectionLifecycle"/> over <see cref="SocketsConnectionIo"/> (the connection's pipes
/// and a backend <c>Socket</c>).
/// </summary>
internal sealed class SocketsRouteTransport : ITcpRouteTransport
{
    private readonly IConnectionListenerFactory _listenerFactory;
    private readonly TcpConnectionLifecycle _lifecycle;

    public SocketsRouteTransport(IConnectionListenerFactory listenerFactory, TcpConnectionLifecycle lifecycle)
    {
        _listenerFactory = listenerFactory;
        _lifecycle = lifecycle;
    }

    public string Name => "Sockets";

    public async ValueTask<ITcpRouteListener> BindAsync(IPEndPoint endPoint, TcpRouteTable routes, CancellationToken cancellationToken)
    {
        IConnectionListener bound = await _listenerFactory.BindAsync(endPoint, cancellationToken).ConfigureAwait(false);
        return new SocketsRouteListener(bound, routes, _lifecycle);
    }

    public ValueTask DisposeAsync() => ValueTask.CompletedTask;
}
