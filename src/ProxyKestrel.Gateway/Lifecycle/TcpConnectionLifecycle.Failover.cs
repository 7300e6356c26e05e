using System.Net;
using System.Runtime.CompilerServices;
using Microsoft.AspNetCore.Http;
using ProxyKestrel.Gateway.Routing;
using Yarp.ReverseProxy.Model;

namespace ProxyKestrel.Gateway.Lifecycle;

/// <summary>The destination step of <see cref="TcpConnectionLifecycle"/>: destinations in the policy's order until one connects.</summary>
internal sealed partial class TcpConnectionLifecycle
{
    /// <summary>
    /// Tries the cluster's destinations in the order its load-balancing policy picks them, each within
    /// <c>ConnectTimeout</c> (a DNS name's addresses in turn within the same time); a failure is logged, counted and
    /// marks the destination unhealthy (passive health).
    /// </summary>
    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder<>))]
    private async ValueTask<(DestinationState? Destination, TcpConnectionEnd Failure)> ConnectAsync(
        ITcpConnectionIo io, TcpRoute route, ClusterState cluster, TcpConnectionRecord record)
    {
        List<DestinationState> candidates = DestinationConnector.Candidates(cluster);
        HttpContext? policyContext = null;
        TcpConnectionEnd failure = TcpConnectionEnd.ConnectFailed;
        bool first = true;
        while (_connector.PickNext(cluster, candidates, ref policyContext) is { } destination)
        {
            if (!first)
            {
                record.Retries++;
            }

            first = false;
            // The server of the last attempt, as HAProxy logs it with SC or sC.
            record.Destination = destination.DestinationId;
            EndPoint endPoint;
            try
            {
                endPoint = DestinationConnector.EndPointOf(destination);
            }
            catch (FormatException e)
            {
                _connector.ReportFailure(route.RouteId, cluster, destination, "bad_address", e.Message);
                failure = TcpConnectionEnd.ConnectFailed;
                continue;
            }

            long deadline = Deadline(record, route.Config.ConnectTimeout);
            ConnectResult result;
            if (endPoint is IPEndPoint ip)
            {
                result = Stepped(record, await io.ConnectAsync(ip, deadline).ConfigureAwait(false));
            }
            else
            {
                var named = (DnsEndPoint)endPoint;
                result = Stepped(record, await io.ResolveAsync(named.Host, deadline).ConfigureAwait(false));
                if (result.Status == ConnectStatus.Connected)
                {
                    IPAddress[] addresses = result.Addresses!;
                    foreach (IPAddress address in addresses)
                    {
                        result = Stepped(record, await io.ConnectAsync(new IPEndPoint(address, named.Port), deadline).ConfigureAwait(false));
                        if (result.Status != ConnectStatus.Failed)
                        {
                            break;
                        }
                    }
                }
            }

            switch (result.Status)
            {
                case ConnectStatus.Connected:
                    return (destination, TcpConnectionEnd.Completed);
                case ConnectStatus.Killed:
                    return (null, TcpConnectionEnd.Killed);
                case ConnectStatus.TimedOut:
                    _connector.ReportFailure(route.RouteId, cluster, destination, "timeout", $"no connection within {route.Config.ConnectTimeout:c}");
                    failure = TcpConnectionEnd.ConnectTimeout;
                    break;
                default:
                    _connector.ReportFailure(route.RouteId, cluster, destination, result.ErrorType ?? "error", result.Reason ?? "failed");
                    failure = TcpConnectionEnd.ConnectFailed;
                    break;
            }
        }

        return (null, failure);
    }
}
