using Microsoft.Extensions.Hosting;
using ProxyKestrel.Gateway.Configuration;
using ProxyKestrel.Gateway.Routing;
using Yarp.ReverseProxy;
using Yarp.ReverseProxy.Model;

using ProxyKestrel.Gateway.Listeners;

namespace ProxyKestrel.Gateway.Admin;

/// <summary>The readiness of the TCP gateway, read from the listener manager, YARP's cluster state and the host.</summary>
internal sealed class TcpProxyReadiness : ITcpProxyReadiness
{
    private readonly TcpProxyListenerManager _manager;
    private readonly IProxyStateLookup _clusters;
    private readonly IHostApplicationLifetime? _lifetime;

    public TcpProxyReadiness(TcpProxyListenerManager manager, IProxyStateLookup clusters, IHostApplicationLifetime? lifetime)
    {
        _manager = manager;
        _clusters = clusters;
        _lifetime = lifetime;
    }

    public TcpProxyReadinessReport Check()
    {
        var reasons = new List<string>();
        if (_lifetime?.ApplicationStopping.IsCancellationRequested == true)
        {
            reasons.Add("shutting down");
            return new TcpProxyReadinessReport(reasons);
        }

        if (!_manager.IsRunning)
        {
            reasons.Add("TCP listeners not started");
            return new TcpProxyReadinessReport(reasons);
        }

        if (_manager.ConfigError is { } error)
        {
            reasons.Add($"the last TcpProxy configuration change was refused: {error}");
        }

        IReadOnlyList<(string RouteId, System.Net.EndPoint EndPoint)> bound = _manager.BoundEndPoints;
        var clusterIds = new SortedSet<string>(StringComparer.OrdinalIgnoreCase);
        foreach (TcpRouteConfig route in _manager.Routes)
        {
            clusterIds.Add(route.ClusterId);
            int count = bound.Count(b => string.Equals(b.RouteId, route.RouteId, StringComparison.OrdinalIgnoreCase));
            if (count < route.Listen.Count)
            {
                reasons.Add($"route {route.RouteId}: {count} of {route.Listen.Count} listener(s) bound");
            }
        }

        foreach (string clusterId in clusterIds)
        {
            if (!_clusters.TryGetCluster(clusterId, out ClusterState? cluster))
            {
                reasons.Add($"cluster {clusterId}: unknown");
                continue;
            }

            IReadOnlyList<DestinationState> destinations = cluster.DestinationsState.AllDestinations;
            if (destinations.Count == 0)
            {
                reasons.Add($"cluster {clusterId}: no destination");
            }
            else if (!destinations.Any(d => d.Health.Active != DestinationHealth.Unhealthy && d.Health.Passive != DestinationHealth.Unhealthy))
            {
                reasons.Add($"cluster {clusterId}: every destination is unhealthy");
            }
        }

        return new TcpProxyReadinessReport(reasons);
    }
}
