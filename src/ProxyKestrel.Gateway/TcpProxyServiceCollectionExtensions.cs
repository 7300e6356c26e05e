using System.Diagnostics.Metrics;
using Microsoft.AspNetCore.Connections;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using ProxyKestrel.Gateway;
using ProxyKestrel.Gateway.Configuration;
using ProxyKestrel.Gateway.Routing;
using Yarp.ReverseProxy;
using Yarp.ReverseProxy.Configuration;
using Yarp.ReverseProxy.Configuration.ClusterValidators;
using Yarp.ReverseProxy.Health;
using Yarp.ReverseProxy.LoadBalancing;

namespace Microsoft.Extensions.DependencyInjection;

/// <summary>Registers the TCP gateway.</summary>
public static class TcpProxyServiceCollectionExtensions
{
    /// <summary>
    /// Adds the TCP gateway: routes from <paramref name="section"/> (the <c>TcpProxy</c> section, reloaded on change)
    /// relayed to the clusters of YARP's <c>ReverseProxy</c> configuration, with the PROXY header each cluster's
    /// metadata asks for. Call <c>AddReverseProxy().LoadFromConfig(...)</c> and <c>app.MapReverseProxy()</c> too.
    /// </summary>
    public static IServiceCollection AddTcpProxy(this IServiceCollection services, IConfiguration section)
    {
        ArgumentNullException.ThrowIfNull(services);
        ArgumentNullException.ThrowIfNull(section);
        services.AddSingleton<IClusterValidator, ProxyProtocolClusterValidator>();
        services.AddSingleton(sp => new TcpProxyMetrics(sp.GetService<IMeterFactory>()));
        services.AddSingleton(sp => new DestinationConnector(
            sp.GetServices<ILoadBalancingPolicy>(),
            sp.GetRequiredService<IDestinationHealthUpdater>(),
            sp.GetService<TimeProvider>() ?? TimeProvider.System,
            sp.GetRequiredService<ILoggerFactory>().CreateLogger("ProxyKestrel.Gateway.Destinations"),
            sp.GetRequiredService<TcpProxyMetrics>()));
        services.AddSingleton(sp => new TcpProxyConnectionHandler(
            sp.GetRequiredService<IProxyStateLookup>(),
            sp.GetRequiredService<DestinationConnector>(),
            sp.GetService<TimeProvider>() ?? TimeProvider.System,
            sp.GetRequiredService<ILoggerFactory>().CreateLogger("ProxyKestrel.Gateway.Connections"),
            sp.GetRequiredService<TcpProxyMetrics>()));
        services.AddSingleton(sp => new TcpProxyListenerManager(
            section,
            kind => TcpRouteTransports.Create(kind, sp),
            sp.GetRequiredService<IProxyStateLookup>(),
            sp.GetService<TimeProvider>() ?? TimeProvider.System,
            sp.GetRequiredService<ILoggerFactory>().CreateLogger("ProxyKestrel.Gateway.Routes")));
        services.AddSingleton<ITcpProxyEndpoints>(sp => sp.GetRequiredService<TcpProxyListenerManager>());
        services.AddSingleton<IHostedService>(sp => sp.GetRequiredService<TcpProxyListenerManager>());
        services.AddSingleton<IConfigChangeListener>(sp => new ClusterChangeListener(sp));
        services.AddSingleton<IHostedService>(sp => new ProxyKestrel.Gateway.Health.TcpActiveHealthChecker(
            sp.GetRequiredService<IProxyStateLookup>(),
            sp.GetRequiredService<IDestinationHealthUpdater>(),
            sp.GetService<TimeProvider>() ?? TimeProvider.System,
            sp.GetRequiredService<ILoggerFactory>().CreateLogger("ProxyKestrel.Gateway.Health")));
        return services;
    }
}
