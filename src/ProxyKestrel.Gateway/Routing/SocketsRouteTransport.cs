using System.Net;
using Microsoft.AspNetCore.Connections;

namespace ProxyKestrel.Gateway.Routing;

/// <summary>
/// The portable transport: Kestrel's socket transport accepts (with the relay's 64 KiB memory pool), one task per
/// connection runs <see cref="TcpProxyConnectionHandler"/> over the connection's pipes and a backend <c>Socket</c>.
/// </summary>
internal sealed class SocketsRouteTransport : ITcpRouteTransport
{
    private readonly IConnectionListenerFactory _listenerFactory;
    private readonly TcpProxyConnectionHandler _handler;

    public SocketsRouteTransport(IConnectionListenerFactory listenerFactory, TcpProxyConnectionHandler handler)
    {
        _listenerFactory = listenerFactory;
        _handler = handler;
    }

    public string Name => "Sockets";

    public async ValueTask<ITcpRouteListener> BindAsync(IPEndPoint endPoint, TcpRoute route, CancellationToken cancellationToken)
    {
        IConnectionListener bound = await _listenerFactory.BindAsync(endPoint, cancellationToken).ConfigureAwait(false);
        return new SocketsRouteListener(bound, route, _handler);
    }

    public ValueTask DisposeAsync() => ValueTask.CompletedTask;
}
