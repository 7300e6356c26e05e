using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using ProxyKestrel.Gateway.Configuration;
using ProxyKestrel.Gateway.Relay;
using ProxyKestrel.Gateway.Relay.Epoll;
using Yarp.ReverseProxy;

namespace ProxyKestrel.Gateway.Routing;

/// <summary>Creates the transport <c>TcpProxy:Transport</c> names (Auto: epoll on Linux, sockets elsewhere).</summary>
internal static class TcpRouteTransports
{
    public static ITcpRouteTransport Create(TcpProxyTransport kind, IServiceProvider services)
    {
        ILoggerFactory loggers = services.GetRequiredService<ILoggerFactory>();
        TimeProvider time = services.GetService<TimeProvider>() ?? TimeProvider.System;
        if (kind != TcpProxyTransport.Sockets && OperatingSystem.IsLinux())
        {
            return new EpollRouteTransport(
                services.GetRequiredService<IProxyStateLookup>(),
                services.GetRequiredService<DestinationConnector>(),
                services.GetRequiredService<TcpProxyMetrics>(),
                time,
                loggers.CreateLogger("ProxyKestrel.Gateway.Connections"));
        }

        return new SocketsRouteTransport(
            RelayTransport.CreateListenerFactory(loggers, time),
            services.GetRequiredService<TcpProxyConnectionHandler>());
    }
}
