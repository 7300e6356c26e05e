using System.Diagnostics.Metrics;
using Microsoft.AspNetCore.Connections;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using ProxyKestrel.Gateway;
using ProxyKestrel.Gateway.Configuration;
using ProxyKestrel.Gateway.Diagnostics;
using ProxyKestrel.Gateway.Health;
using ProxyKestrel.Gateway.Lifecycle;
using ProxyKestrel.Gateway.Mail;
using ProxyKestrel.Gateway.Listeners;
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
    /// Adds the TCP gateway with the routes of <paramref name="section"/> (the <c>TcpProxy</c> section, reloaded on
    /// change): the same as <c>AddTcpProxy().LoadFromConfig(section)</c>.
    /// </summary>
    public static IServiceCollection AddTcpProxy(this IServiceCollection services, IConfiguration section)
    {
        ArgumentNullException.ThrowIfNull(services);
        ArgumentNullException.ThrowIfNull(section);
        services.AddTcpProxy().LoadFromConfig(section);
        return services;
    }

    /// <summary>
    /// Adds the TCP gateway: the routes of the providers added with the returned builder (<c>LoadFromConfig</c>,
    /// <c>LoadFromMemory</c>) or registered as <see cref="ITcpProxyConfigProvider"/>, relayed to the clusters of YARP,
    /// with the PROXY header each cluster's metadata asks for. Call <c>AddReverseProxy()</c> (with its clusters) and
    /// <c>app.MapReverseProxy()</c> too. Calling it again adds no service twice (each is added with <c>TryAdd</c>).
    /// </summary>
    public static ITcpProxyBuilder AddTcpProxy(this IServiceCollection services)
    {
        ArgumentNullException.ThrowIfNull(services);
        services.AddGatewayCore();
        services.TryAddSingleton(sp => new TcpConnectionLifecycle(
            sp.GetRequiredService<IProxyStateLookup>(),
            sp.GetRequiredService<DestinationConnector>(),
            sp.GetRequiredService<TcpProxyMetrics>(),
            new TcpConnectionCounts(),
            new TcpAccessLog(sp.GetRequiredService<ILoggerFactory>()),
            sp.GetService<TimeProvider>() ?? TimeProvider.System,
            sp.GetRequiredService<ILoggerFactory>().CreateLogger("ProxyKestrel.Gateway.Connections"),
            sp.GetRequiredService<MailBackendChooser>()));
        services.TryAddSingleton(sp => new MailBackendChooser(
            sp.GetService<IMailBackendSelector>(),
            sp.GetService<TimeProvider>() ?? TimeProvider.System,
            sp.GetRequiredService<ILoggerFactory>().CreateLogger("ProxyKestrel.Gateway.Mail")));
        services.TryAddSingleton(sp => new TcpProxyListenerManager(
            sp.GetServices<ITcpProxyConfigProvider>(),
            kind => TcpRouteTransports.Create(kind, sp),
            sp.GetRequiredService<IProxyStateLookup>(),
            sp.GetService<TimeProvider>() ?? TimeProvider.System,
            sp.GetRequiredService<ILoggerFactory>().CreateLogger("ProxyKestrel.Gateway.Routes")));
        services.TryAddSingleton<ITcpProxyEndpoints>(sp => sp.GetRequiredService<TcpProxyListenerManager>());
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IHostedService, TcpProxyListenerManager>(sp => sp.GetRequiredService<TcpProxyListenerManager>()));
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IConfigChangeListener, ClusterChangeListener>(sp => new ClusterChangeListener(sp)));
        return new TcpProxyBuilder(services);
    }

    /// <summary>What the TCP and the UDP routes share: the cluster metadata validator, the load balancing and passive health, the active health checks.</summary>
    internal static IServiceCollection AddGatewayCore(this IServiceCollection services)
    {
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IClusterValidator, ProxyProtocolClusterValidator>());
        services.TryAddSingleton(sp => new TcpProxyMetrics(sp.GetService<IMeterFactory>()));
        services.TryAddSingleton(sp => new DestinationConnector(
            sp.GetServices<ILoadBalancingPolicy>(),
            sp.GetRequiredService<IDestinationHealthUpdater>(),
            sp.GetRequiredService<ILoggerFactory>().CreateLogger("ProxyKestrel.Gateway.Destinations"),
            sp.GetRequiredService<TcpProxyMetrics>()));
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IHostedService, TcpActiveHealthChecker>(sp => new TcpActiveHealthChecker(
            sp.GetRequiredService<IProxyStateLookup>(),
            sp.GetRequiredService<IDestinationHealthUpdater>(),
            sp.GetService<TimeProvider>() ?? TimeProvider.System,
            sp.GetRequiredService<ILoggerFactory>().CreateLogger("ProxyKestrel.Gateway.Health"))));
        return services;
    }
}
