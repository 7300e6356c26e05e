using System.Net;
using System.Runtime.CompilerServices;
using Microsoft.Extensions.Logging;
using ProxyKestrel.Gateway.Configuration;
using Yarp.ReverseProxy.Configuration;
using Yarp.ReverseProxy.Model;

namespace ProxyKestrel.Gateway.Routing;

/// <summary>
/// The steps of a TCP route connection that both transports (<see cref="TcpProxyConnectionHandler"/> and the epoll
/// loops) take the same way: admission, the cluster's PROXY settings, whether to wait for the client's SNI, why an
/// upstream header is rejected, and YARP's per-destination count.
/// </summary>
internal static class TcpConnectionSteps
{
    /// <summary>The reason logged when a peer outside <c>TrustedNetworks</c> sends to a route that rejects them.</summary>
    public const string UntrustedPeer = "the peer is not in AcceptProxyProtocol:TrustedNetworks";

    /// <summary>The PROXY protocol of each (immutable) cluster config, read from its metadata once, not per connection.</summary>
    private static readonly ConditionalWeakTable<ClusterConfig, ClusterProxyProtocol> s_protocols = new();

    /// <summary>
    /// Admits a new client: <c>AllowedClients</c> (checked later, against the header's client, on a route that reads
    /// an upstream header) and <c>MaxConnections</c>. A refusal is logged and counted; false means close it. On true
    /// the caller holds a connection slot and gives it back with <see cref="TcpRoute.Exit"/>.
    /// </summary>
    public static bool TryAdmit(TcpRoute route, EndPoint? peer, ILogger logger, TcpProxyMetrics metrics)
    {
        if (route.Receiver is null && !route.IsAllowed(peer))
        {
            TcpProxyLog.ClientNotAllowed(logger, peer, route.RouteId);
            metrics.Refused(route.RouteId, "client_not_allowed");
            return false;
        }

        if (!route.TryEnter())
        {
            TcpProxyLog.MaxConnectionsReached(logger, peer, route.RouteId, route.Config.MaxConnections ?? 0);
            metrics.Refused(route.RouteId, "max_connections");
            return false;
        }

        return true;
    }

    /// <summary>
    /// <c>AllowedClients</c> on a route that reads an upstream header, checked against the client that header names
    /// (or the peer when it carried no address). A refusal is logged; false means close the connection.
    /// </summary>
    public static bool IsAllowedAfterHeader(TcpRoute route, EndPoint? client, ILogger logger)
    {
        if (route.IsAllowed(client))
        {
            return true;
        }

        TcpProxyLog.ClientNotAllowed(logger, client, route.RouteId);
        return false;
    }

    /// <summary>The PROXY protocol the cluster's destinations expect (read from its metadata once per cluster config).</summary>
    public static ClusterProxyProtocol ProtocolOf(ClusterState cluster) =>
        s_protocols.GetValue(cluster.Model.Config, static config => ClusterProxyProtocol.Read(config, []));

    /// <summary>
    /// True when the header to the backend carries an authority TLV that no upstream header supplied: it then comes
    /// from the SNI of the client's TLS ClientHello, which the connection waits for (up to ConnectTimeout).
    /// </summary>
    public static bool WaitsForServerName(ClusterProxyProtocol protocol, bool hasUpstream, in ProxyHeader upstream) =>
        protocol.Version == ProxyProtocolVersion.V2
        && (protocol.Tlvs & ProxyProtocolTlvSelection.Authority) != 0
        && !(hasUpstream && upstream.TryGetAuthority(out _));

    /// <summary>The reason logged when no complete upstream header arrived within <paramref name="timeout"/>.</summary>
    public static string HeaderTimeout(TimeSpan timeout) => $"no complete header within {timeout:c}";

    /// <summary>The reason logged for a rejected upstream header (<see cref="ProxyParseError.None"/>: the peer closed first).</summary>
    public static string Rejection(ProxyParseError error) => error == ProxyParseError.None ? "closed before a complete header" : error.Describe();

    /// <summary>
    /// Keeps YARP's per-destination count (read by LeastRequests and PowerOfTwoChoices) for TCP connections too,
    /// atomically, as YARP's HTTP forwarder does (<see cref="DestinationConcurrency"/>); <paramref name="delta"/> is +1 (a
    /// connection started) or -1 (it ended).
    /// </summary>
    public static void AdjustConcurrency(DestinationState destination, int delta)
    {
        if (delta > 0)
        {
            DestinationConcurrency.Increment(destination);
        }
        else
        {
            DestinationConcurrency.Decrement(destination);
        }
    }
}
