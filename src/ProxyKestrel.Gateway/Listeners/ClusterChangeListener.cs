using Microsoft.Extensions.DependencyInjection;
using Yarp.ReverseProxy.Configuration;

namespace ProxyKestrel.Gateway.Listeners;

/// <summary>
/// Re-reads the TCP routes after YARP applied a new cluster configuration: when one file change adds a cluster and
/// a route using it, the routes may be read before YARP knows the cluster; this second read then succeeds.
/// </summary>
/// <remarks>
/// The manager is resolved on use: YARP builds its listeners while building the state the manager depends on.
/// </remarks>
internal sealed class ClusterChangeListener(IServiceProvider services) : IConfigChangeListener
{
    public void ConfigurationApplied(IReadOnlyList<IProxyConfig> proxyConfigs) =>
        services.GetRequiredService<TcpProxyListenerManager>().OnClustersChanged();

    public void ConfigurationApplyingFailed(IReadOnlyList<IProxyConfig> proxyConfigs, Exception exception)
    {
    }

    public void ConfigurationLoaded(IReadOnlyList<IProxyConfig> proxyConfigs)
    {
    }

    public void ConfigurationLoadingFailed(IProxyConfigProvider configProvider, Exception exception)
    {
    }
}
