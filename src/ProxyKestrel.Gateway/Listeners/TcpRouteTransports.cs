using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using ProxyKestrel.Gateway.Configuration;
using ProxyKestrel.Gateway.Lifecycle;
using ProxyKestrel.Gateway.Transports;
using ProxyKestrel.Gateway.Transports.Epoll;
using ProxyKestrel.Gateway.Transports.Sockets;

namespace ProxyKestrel.Gateway.Listeners;

/// <summary>Creates the transport <c>TcpProxy:Transport</c> names (Auto: epoll on Linux, sockets elsewhere).</summary>
internal static class TcpRouteTransports
{
    public static ITcpRouteTransport Create(TcpProxyTransport kind, IServiceProvider services)
    {
        TcpConnectionLifecycle lifecycle = services.GetRequiredService<TcpConnectionLifecycle>();
        if (kind != TcpProxyTransport.Sockets && OperatingSystem.IsLinux())
        {
            return new EpollRouteTransport(lifecycle);
        }

        return new SocketsRouteTransport(
            RelayTransport.CreateListenerFactory(services.GetRequiredService<ILoggerFactory>(), lifecycle.TimeProvider),
            lifecycle);
    }
}
