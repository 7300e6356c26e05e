using System.Net;
using Microsoft.AspNetCore.Http;
using ProxyKestrel.Gateway.Routing;
using Yarp.ReverseProxy.Model;

namespace ProxyKestrel.Gateway.Lifecycle;

/// <summary>
/// The destination step of <see cref="TcpConnectionLifecycle"/>: destinations in the order the cluster's
/// load-balancing policy picks them, each within <c>ConnectTimeout</c> (a DNS name's addresses in turn within the same
/// time), until one connects. The waits are in <see cref="TcpConnectionLifecycle"/>'s one state machine (a state
/// machine of its own per connection was garbage that stayed resident); these are the decisions around them.
/// </summary>
internal sealed partial class TcpConnectionLifecycle
{
    /// <summary>
    /// The next destination to try and its address, or null when none is left. A destination whose address does not
    /// parse is reported (passive health) and skipped.
    /// </summary>
    private DestinationState? NextDestination(
        TcpRoute route, ClusterState cluster, List<DestinationState> candidates, ref HttpContext? policyContext, TcpConnectionRecord record, out EndPoint? endPoint)
    {
        while (_connector.PickNext(cluster, candidates, ref policyContext) is { } destination)
        {
            // The server of the last attempt, as HAProxy logs it with SC or sC; every attempt after the first is a retry.
            if (!ReferenceEquals(record.Destination, TcpConnectionRecord.NoServer))
            {
                record.Retries++;
            }

            record.Destination = destination.DestinationId;
            try
            {
                endPoint = DestinationConnector.EndPointOf(destination);
                return destination;
            }
            catch (FormatException e)
            {
                _connector.ReportFailure(route.RouteId, cluster, destination, "bad_address", e.Message);
            }
        }

        endPoint = null;
        return null;
    }

    /// <summary>
    /// An attempt did not connect: a failure is logged, counted and marks the destination unhealthy (passive health);
    /// the end the connection has if no other destination connects.
    /// </summary>
    private TcpConnectionEnd AttemptFailed(TcpRoute route, ClusterState cluster, DestinationState destination, in ConnectResult result)
    {
        if (result.Status == ConnectStatus.TimedOut)
        {
            _connector.ReportFailure(route.RouteId, cluster, destination, "timeout", $"no connection within {route.Config.ConnectTimeout:c}");
            return TcpConnectionEnd.ConnectTimeout;
        }

        _connector.ReportFailure(route.RouteId, cluster, destination, result.ErrorType ?? "error", result.Reason ?? "failed");
        return TcpConnectionEnd.ConnectFailed;
    }
}
