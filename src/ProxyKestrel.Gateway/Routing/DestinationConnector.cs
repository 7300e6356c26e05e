using System.Net;
using System.Runtime.CompilerServices;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Logging;
using Yarp.ReverseProxy.Configuration;
using Yarp.ReverseProxy.Health;
using Yarp.ReverseProxy.LoadBalancing;
using Yarp.ReverseProxy.Model;

using ProxyKestrel.Gateway.Diagnostics;

namespace ProxyKestrel.Gateway.Routing;

/// <summary>
/// Picks destinations of a YARP cluster with the cluster's load-balancing policy over its available (healthy)
/// destinations, in the order <see cref="Lifecycle.TcpConnectionLifecycle"/> tries them, and marks one that failed
/// unhealthy (passive health).
/// </summary>
internal sealed class DestinationConnector
{
    private static readonly TimeSpan DefaultReactivationPeriod = TimeSpan.FromSeconds(30);

    /// <summary>Parsed destination addresses, per (immutable) destination config: parsed once, not per connection.</summary>
    private static readonly ConditionalWeakTable<DestinationConfig, EndPoint> s_endPoints = new();
    private readonly Dictionary<string, ILoadBalancingPolicy> _policies;
    private readonly IDestinationHealthUpdater _healthUpdater;
    private readonly ILogger _logger;
    private readonly TcpProxyMetrics _metrics;

    public DestinationConnector(
        IEnumerable<ILoadBalancingPolicy> policies,
        IDestinationHealthUpdater healthUpdater,
        ILogger logger,
        TcpProxyMetrics metrics)
    {
        _policies = policies.ToDictionary(p => p.Name, StringComparer.OrdinalIgnoreCase);
        _healthUpdater = healthUpdater;
        _logger = logger;
        _metrics = metrics;
    }

    /// <summary>
    /// The destinations to try, healthy and unknown ones first (active TCP checks and passive marks are honoured
    /// whatever YARP's HealthCheck section says); when every one is unhealthy, all of them rather than none
    /// (HealthyOrPanic).
    /// </summary>
    public static List<DestinationState> Candidates(ClusterState cluster)
    {
        IReadOnlyList<DestinationState> available = cluster.DestinationsState.AvailableDestinations;
        var candidates = new List<DestinationState>(available.Count);
        // By index: a foreach over the interface allocates an enumerator per connection.
        for (int i = 0; i < available.Count; i++)
        {
            DestinationState destination = available[i];
            if (destination.Health.Active != DestinationHealth.Unhealthy && destination.Health.Passive != DestinationHealth.Unhealthy)
            {
                candidates.Add(destination);
            }
        }

        if (candidates.Count == 0)
        {
            candidates.AddRange(available);
        }

        return candidates;
    }

    /// <summary>Picks (and removes) the next destination to try with the cluster's load-balancing policy; null when none is left.</summary>
    public DestinationState? PickNext(ClusterState cluster, List<DestinationState> candidates, ref HttpContext? context)
    {
        if (candidates.Count == 0)
        {
            return null;
        }

        string policyName = cluster.Model.Config.LoadBalancingPolicy ?? LoadBalancingPolicies.PowerOfTwoChoices;
        _policies.TryGetValue(policyName, out ILoadBalancingPolicy? policy);
        // The policies take an HttpContext (none of the built-in ones reads it); only made when there is a choice.
        DestinationState destination = candidates.Count == 1 || policy is null
            ? candidates[0]
            : policy.PickDestination(context ??= new DefaultHttpContext(), cluster, candidates) ?? candidates[0];
        candidates.Remove(destination);
        return destination;
    }

    /// <summary>The destination's parsed address (an <see cref="IPEndPoint"/> or a <see cref="DnsEndPoint"/>), parsed once per config.</summary>
    /// <exception cref="FormatException">The address is not <c>tcp://HOST:PORT</c>.</exception>
    public static EndPoint EndPointOf(DestinationState destination) =>
        s_endPoints.GetValue(destination.Model.Config, static config => ParseAddress(config.Address));

    /// <summary>A connection attempt failed: logs it, counts it and marks the destination unhealthy (passive health).</summary>
    public void ReportFailure(string routeId, ClusterState cluster, DestinationState destination, string errorType, string reason)
    {
        TcpProxyLog.DestinationConnectFailed(_logger, routeId, destination.DestinationId, destination.Model.Config.Address, cluster.ClusterId, reason);
        _metrics.ConnectError(routeId, destination.DestinationId, errorType);
        TimeSpan reactivation = cluster.Model.Config.HealthCheck?.Passive?.ReactivationPeriod ?? DefaultReactivationPeriod;
        _healthUpdater.SetPassive(cluster, destination, DestinationHealth.Unhealthy, reactivation);
    }

    /// <summary>
    /// <c>tcp://host:port</c> (host an IP literal or a DNS name), a bare <c>host:port</c>, or a YARP HTTP destination's
    /// <c>http(s)://host:port</c> (a cluster that serves both kinds of route); never a UDP destination (<c>udp://</c>).
    /// </summary>
    public static EndPoint ParseAddress(string address)
    {
        string text = address.Contains("://", StringComparison.Ordinal) ? address : "tcp://" + address;
        if (!Uri.TryCreate(text, UriKind.Absolute, out Uri? uri) || uri.Port <= 0 || string.Equals(uri.Scheme, Udp.UdpDestination.Scheme, StringComparison.OrdinalIgnoreCase))
        {
            throw new FormatException($"'{address}' is not a TCP destination; expected tcp://HOST:PORT.");
        }

        string host = uri.IdnHost.Trim('[', ']');
        return IPAddress.TryParse(host, out IPAddress? ip) ? new IPEndPoint(ip, uri.Port) : new DnsEndPoint(host, uri.Port);
    }
}
