using System.Diagnostics.Metrics;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using ProxyKestrel.Gateway.Routing;
using ProxyKestrel.Gateway.Udp;
using Yarp.ReverseProxy;
using Yarp.ReverseProxy.Health;

namespace Microsoft.Extensions.DependencyInjection;

/// <summary>Registers the gateway's UDP routes.</summary>
public static class UdpProxyServiceCollectionExtensions
{
    /// <summary>
    /// Adds the UDP routes of <paramref name="section"/> (the <c>UdpProxy</c> section, reloaded on change): datagrams
    /// relayed to the destinations (<c>udp://HOST:PORT</c>) of YARP clusters, each with a PROXY v2 header when the
    /// cluster's <c>ProxyProtocol</c> metadata is <c>v2</c>. Call <c>AddReverseProxy()</c> with the clusters too.
    /// Calling it again adds nothing twice.
    /// </summary>
    public static IServiceCollection AddUdpProxy(this IServiceCollection services, IConfiguration section)
    {
        ArgumentNullException.ThrowIfNull(services);
        ArgumentNullException.ThrowIfNull(section);
        services.AddGatewayCore();
        services.TryAddSingleton(sp => new UdpProxyService(
            section,
            new UdpRouteContext(
                sp.GetRequiredService<IProxyStateLookup>(),
                sp.GetRequiredService<DestinationConnector>(),
                sp.GetRequiredService<IDestinationHealthUpdater>(),
                new UdpProxyMetrics(sp.GetService<IMeterFactory>()),
                new UdpAccessLog(sp.GetRequiredService<ILoggerFactory>()),
                new UdpSessionCounts(),
                sp.GetService<TimeProvider>() ?? TimeProvider.System,
                sp.GetRequiredService<ILoggerFactory>().CreateLogger("ProxyKestrel.Gateway.Udp"))));
        services.TryAddSingleton<IUdpProxyEndpoints>(sp => sp.GetRequiredService<UdpProxyService>());
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IHostedService, UdpProxyService>(sp => sp.GetRequiredService<UdpProxyService>()));
        return services;
    }
}
