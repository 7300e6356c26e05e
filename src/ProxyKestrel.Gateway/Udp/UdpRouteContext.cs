using Microsoft.Extensions.Logging;
using ProxyKestrel.Gateway.Routing;
using Yarp.ReverseProxy;
using Yarp.ReverseProxy.Health;

namespace ProxyKestrel.Gateway.Udp;

/// <summary>What every UDP route listener shares: YARP's clusters and health, the load balancing, the time, the logs and metrics.</summary>
internal sealed record UdpRouteContext(
    IProxyStateLookup Clusters,
    DestinationConnector Connector,
    IDestinationHealthUpdater HealthUpdater,
    UdpProxyMetrics Metrics,
    UdpAccessLog AccessLog,
    UdpSessionCounts Counts,
    TimeProvider Time,
    ILogger Logger);
