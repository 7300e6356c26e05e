using System.Net;

using ProxyKestrel.Gateway.Routing;

namespace ProxyKestrel.Gateway.Transports;

/// <summary>Accepts and relays the connections of TCP routes: Kestrel's sockets (portable) or the Linux epoll loops.</summary>
internal interface ITcpRouteTransport : IAsyncDisposable
{
    /// <summary>The transport's name as written in <c>TcpProxy:Transport</c>.</summary>
    string Name { get; }

    /// <summary>Listens on <paramref name="endPoint"/>; each accepted connection is handled with the listener's current route.</summary>
    ValueTask<ITcpRouteListener> BindAsync(IPEndPoint endPoint, TcpRouteTable routes, CancellationToken cancellationToken);
}
