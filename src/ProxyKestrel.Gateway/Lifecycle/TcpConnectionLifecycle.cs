using System.Net;
using System.Runtime.CompilerServices;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Logging;
using ProxyKestrel.Gateway.Configuration;
using ProxyKestrel.Gateway.Diagnostics;
using ProxyKestrel.Gateway.Mail;
using ProxyKestrel.Gateway.Routing;
using Yarp.ReverseProxy;
using Yarp.ReverseProxy.Model;

namespace ProxyKestrel.Gateway.Lifecycle;

/// <summary>
/// The life of one TCP route connection, written once for every transport: admission (<c>AllowedClients</c>,
/// <c>MaxConnections</c>), the PROXY header from an upstream proxy, the SNI peek, the destination (YARP's load
/// balancing over healthy destinations) and the connection to it with failover, the PROXY header to the backend
/// (before any client byte, so server-speaks-first protocols such as SMTP work), the relay, and the end: one typed
/// <see cref="TcpConnectionEnd"/> that the metrics, the logs and the access log all report. The transport behind
/// <see cref="ITcpConnectionIo"/> only moves bytes. On the epoll transport this method runs on the connection's loop
/// thread from accept to close: every operation completes there. The destination step's decisions (which
/// destination next, what a failed attempt means) are in TcpConnectionLifecycle.Failover.cs; admission, the end's
/// bookkeeping and the deadlines in TcpConnectionLifecycle.Accounting.cs. On a listener shared by routes with
/// <c>Match</c>, the route is chosen (<see cref="ClientInspection"/>, <see cref="TcpRouteTable"/>) after the upstream
/// header and before the destination.
/// </summary>
internal sealed partial class TcpConnectionLifecycle
{
    /// <summary>
    /// The most bytes read from a client before its backend connection (the SNI peek stops there; a route's
    /// <c>MaxInspectBytes</c> may be as large, no larger).
    /// </summary>
    public const int MaxInspectBytes = TcpRouteConfig.MaxMaxInspectBytes;

    /// <summary>The route and cluster of a connection whose route is not chosen yet, as the access log shows them.</summary>
    private const string NoRoute = "-";

    private readonly IProxyStateLookup _clusters;
    private readonly DestinationConnector _connector;
    private readonly TcpProxyMetrics _metrics;
    private readonly TcpConnectionCounts _counts;
    private readonly TcpAccessLog _accessLog;
    private readonly TimeProvider _time;
    private readonly ILogger _logger;
    private readonly MailBackendChooser? _mailBackends;

    public TcpConnectionLifecycle(
        IProxyStateLookup clusters,
        DestinationConnector connector,
        TcpProxyMetrics metrics,
        TcpConnectionCounts counts,
        TcpAccessLog accessLog,
        TimeProvider timeProvider,
        ILogger logger,
        MailBackendChooser? mailBackends = null)
    {
        _clusters = clusters;
        _connector = connector;
        _metrics = metrics;
        _counts = counts;
        _accessLog = accessLog;
        _time = timeProvider;
        _logger = logger;
        _mailBackends = mailBackends;
    }

    public TimeProvider TimeProvider => _time;

    public ILogger Logger => _logger;

    /// <summary>
    /// Runs the connection: admission here, at once, on a listener with one route and nothing to choose; then the
    /// steps up to the relay, whose end finishes the connection (<see cref="RelayingConnection"/>), or to an earlier
    /// end. On a listener whose routes match on the client (<see cref="TcpRouteTable"/>), the route is chosen, and the
    /// connection admitted to it, once the upstream header and the client's first bytes have been read. Nothing waits
    /// for it: the transport learns the end from <see cref="ITcpConnectionIo.Ended"/>. Never throws: a failure is
    /// logged and ends the connection.
    /// </summary>
    public void Run(ITcpConnectionIo io, TcpRouteTable routes)
    {
        TcpRoute? route = routes.Single;
        var record = new TcpConnectionRecord(route?.RouteId ?? NoRoute, route?.Config.ClusterId ?? NoRoute, io.RemoteEndPoint, _time.GetLocalNow(), _time.GetTimestamp());
        if (route is null)
        {
            _ = ProxyAsync(io, routes, null, record);
            return;
        }

        if (Admit(route, io.RemoteEndPoint, checkClient: route.Receiver is null) is { } refused)
        {
            record.End = refused;
            try
            {
                Record(record, route, admitted: false);
            }
            finally
            {
                io.Close(CloseMode.Abort);
                io.Ended();
            }

            return;
        }

        // Not awaited (its end is the io's Ended): one pooled state machine per connection, no task.
        _ = ProxyAsync(io, routes, route, record);
    }

    /// <summary>
    /// The steps up to the relay, and the end of a connection that ends before it (in <c>finally</c>: every
    /// <c>return</c> sets <c>end</c>, null once the relay started, whose end finishes the connection). Nobody awaits
    /// it: the one state machine a connection has, in a pooled box (<see cref="Unawaited"/>).
    /// </summary>
    private async Unawaited ProxyAsync(ITcpConnectionIo io, TcpRouteTable routes, TcpRoute? route, TcpConnectionRecord record)
    {
        // What a failure ends the connection with (none once the relay started: it ends there).
        TcpConnectionEnd? end = TcpConnectionEnd.ClientAborted;
        // The route the connection holds a slot of (given back at the end); null until one is chosen.
        TcpRoute? admitted = route;
        try
        {
            EndPoint? peer = io.RemoteEndPoint;
            EndPoint? client = peer;
            EndPoint? dialled = null;
            ProxyHeader upstream = default;
            bool hasUpstream = false;
            bool clientEnded = false;

            // 1. The PROXY header of an upstream proxy. An untrusted peer let through is not read from at all: the backend
            // is dialled at once, so a server-speaks-first backend's banner reaches a client that waits for it.
            if (routes.Receiver is { } receiver)
            {
                if (receiver.IsTrusted(peer))
                {
                    long deadline = Deadline(record, receiver.HeaderTimeout);
                    while (true)
                    {
                        ReceiveStatus status = Stepped(record, await io.ReceiveAsync(deadline).ConfigureAwait(false));
                        if (status == ReceiveStatus.Killed)
                        {
                            end = TcpConnectionEnd.Killed;
                            return;
                        }

                        if (status == ReceiveStatus.TimedOut)
                        {
                            TcpProxyLog.HeaderRejected(_logger, peer, record.RouteId, TcpConnectionSteps.HeaderTimeout(receiver.HeaderTimeout));
                            end = TcpConnectionEnd.HeaderTimeout;
                            return;
                        }

                        clientEnded = status is ReceiveStatus.Ended or ReceiveStatus.Reset;
                        ProxyReceiveStatus evaluated = receiver.Evaluate(io.Received, clientEnded || status == ReceiveStatus.Full, out ProxyHeader received, out ProxyParseError error);
                        if (evaluated == ProxyReceiveStatus.Accepted)
                        {
                            upstream = received;
                            hasUpstream = true;
                            break;
                        }

                        if (evaluated == ProxyReceiveStatus.NoHeader)
                        {
                            break;
                        }

                        if (evaluated == ProxyReceiveStatus.Rejected)
                        {
                            TcpProxyLog.HeaderRejected(_logger, peer, record.RouteId, TcpConnectionSteps.Rejection(error));
                            end = TcpConnectionEnd.HeaderRejected;
                            return;
                        }
                    }

                    if (hasUpstream && upstream.HasIPEndPoints)
                    {
                        client = upstream.GetSourceEndPoint();
                        dialled = upstream.GetDestinationEndPoint();
                        record.Client = client;
                        record.UpstreamProxy = peer;
                    }
                }
                else if (receiver.UntrustedPeers != UntrustedPeerBehavior.Passthrough)
                {
                    TcpProxyLog.HeaderRejected(_logger, peer, record.RouteId, TcpConnectionSteps.UntrustedPeer);
                    end = TcpConnectionEnd.UntrustedPeer;
                    return;
                }

                if (route is not null && !route.IsAllowed(client))
                {
                    TcpProxyLog.ClientNotAllowed(_logger, client, route.RouteId);
                    end = TcpConnectionEnd.ClientNotAllowed;
                    return;
                }
            }

            // 2. The route, on a listener whose routes match on the client: its first bytes (not consumed), then the
            // most specific match; the connection is admitted to that route only then.
            int skip = hasUpstream ? upstream.Length : 0;
            ClientFacts facts = default;
            if (route is null)
            {
                facts.Client = (client as IPEndPoint)?.Address;
                if (routes.NeedsProtocol)
                {
                    long deadline = Deadline(record, routes.InspectTimeout);
                    // Only the first MaxInspectBytes are looked at, however many one receive brought.
                    while (!ClientInspection.Inspect(routes, Inspected(io.Received, skip, routes.MaxInspectBytes), ref facts)
                        && !clientEnded && io.Received.Length - skip < routes.MaxInspectBytes)
                    {
                        ReceiveStatus status = Stepped(record, await io.ReceiveAsync(deadline).ConfigureAwait(false));
                        if (EndBeforeRelay(status) is { } stop)
                        {
                            end = stop;
                            return;
                        }

                        if (status is ReceiveStatus.TimedOut or ReceiveStatus.Full)
                        {
                            break;
                        }

                        clientEnded = status == ReceiveStatus.Ended;
                        if (hasUpstream)
                        {
                            // The buffer may have moved: decode the upstream header from the current one.
                            routes.Receiver!.Evaluate(io.Received, false, out upstream, out _);
                        }
                    }

                    ClientInspection.Conclude(ref facts);
                }

                route = routes.Select(facts);
                if (route is null)
                {
                    TcpProxyLog.NoRoute(_logger, client, io.LocalEndPoint, facts.Protocol?.ToString() ?? "-", facts.ServerName, facts.Host);
                    end = TcpConnectionEnd.NoRoute;
                    return;
                }

                record.RouteId = route.RouteId;
                record.ClusterId = route.Config.ClusterId;
                if (Admit(route, client, checkClient: true) is { } refused)
                {
                    end = refused;
                    return;
                }

                admitted = route;
            }

            if (route.Config.Protocol != TcpRouteProtocol.Tcp)
            {
                // The mail front (TcpConnectionLifecycle.Mail.cs) owns the connection from here, on its stream I/O.
                IStreamConnectionIo streams = io.DetachToStreams();
                end = null;
                _ = MailAsync(streams, route, record, client, dialled, skip);
                return;
            }

            if (!_clusters.TryGetCluster(route.Config.ClusterId, out ClusterState? cluster))
            {
                TcpProxyLog.NoDestination(_logger, route.RouteId, route.Config.ClusterId, client);
                end = TcpConnectionEnd.NoCluster;
                return;
            }

            // 3. The SNI peek: the authority TLV from the client's TLS ClientHello, waited for up to ConnectTimeout
            // (already read if the route was chosen on it).
            ClusterProxyProtocol protocol = TcpConnectionSteps.ProtocolOf(cluster);
            string? serverName = null;
            if (routes.NeedsTls && facts.Protocol == TcpClientProtocol.Tls)
            {
                serverName = facts.ServerName;
            }
            else if (TcpConnectionSteps.WaitsForServerName(protocol, hasUpstream, upstream))
            {
                long deadline = Deadline(record, route.Config.ConnectTimeout);
                while (TlsClientHello.TryReadServerName(io.Received.Slice(skip), out serverName) == ClientHelloStatus.NeedMoreData
                    && !clientEnded && io.Received.Length < MaxInspectBytes)
                {
                    ReceiveStatus status = Stepped(record, await io.ReceiveAsync(deadline).ConfigureAwait(false));
                    if (EndBeforeRelay(status) is { } stop)
                    {
                        end = stop;
                        return;
                    }

                    if (status is ReceiveStatus.TimedOut or ReceiveStatus.Full)
                    {
                        serverName = null;
                        break;
                    }

                    clientEnded = status == ReceiveStatus.Ended;
                    if (hasUpstream)
                    {
                        // The buffer may have moved: decode the upstream header from the current one.
                        routes.Receiver!.Evaluate(io.Received, false, out upstream, out _);
                    }
                }
            }

            // 4. The destination, with failover (the decisions in TcpConnectionLifecycle.Failover.cs).
            record.Phase = TcpConnectionPhase.Connect;
            record.WaitMs = 0;
            long connectStarted = _time.GetTimestamp();
            List<DestinationState> candidates = DestinationConnector.Candidates(cluster);
            HttpContext? policyContext = null;
            TcpConnectionEnd failure = TcpConnectionEnd.ConnectFailed;
            DestinationState? destination;
            while ((destination = NextDestination(route, cluster, candidates, ref policyContext, record, out EndPoint? endPoint)) is not null)
            {
                long deadline = Deadline(record, route.Config.ConnectTimeout);
                ConnectResult result;
                if (endPoint is IPEndPoint ip)
                {
                    result = Stepped(record, await io.ConnectAsync(ip, deadline).ConfigureAwait(false));
                }
                else
                {
                    var named = (DnsEndPoint)endPoint!;
                    result = Stepped(record, await io.ResolveAsync(named.Host, deadline).ConfigureAwait(false));
                    if (result.Status == ConnectStatus.Connected)
                    {
                        foreach (IPAddress address in result.Addresses!)
                        {
                            result = Stepped(record, await io.ConnectAsync(new IPEndPoint(address, named.Port), deadline).ConfigureAwait(false));
                            if (result.Status != ConnectStatus.Failed)
                            {
                                break;
                            }
                        }
                    }
                }

                if (result.Status == ConnectStatus.Connected)
                {
                    break;
                }

                if (result.Status == ConnectStatus.Killed)
                {
                    end = TcpConnectionEnd.Killed;
                    return;
                }

                failure = AttemptFailed(route, cluster, destination, result);
            }

            if (destination is null)
            {
                TcpProxyLog.NoDestination(_logger, route.RouteId, route.Config.ClusterId, client);
                end = failure;
                return;
            }

            record.ConnectMs = (long)_time.GetElapsedTime(connectStarted).TotalMilliseconds;

            // 5. The PROXY header, then the relay.
            byte[]? header = null;
            int headerLength = 0;
            if (protocol.Version is { } version)
            {
                dialled ??= io.LocalEndPoint;
                // An id only for a cluster that sends it.
                string uniqueId = ProxyHeaderBuilder.WritesUniqueId(protocol) ? io.ConnectionId : string.Empty;
                headerLength = ProxyHeaderBuilder.Build(protocol, client, dialled, upstream, hasUpstream, serverName, uniqueId, out header);
                record.ProxyVersion = version == ProxyProtocolVersion.V1 ? "v1" : "v2";
            }

            var relaying = new RelayingConnection(this, io, route, record, client, destination, _counts.Cluster(cluster.ClusterId), header);
            record.Phase = TcpConnectionPhase.Data;
            try
            {
                io.StartRelay(header.AsMemory(0, headerLength), skip, route.Config.ClientIdleTimeout, route.Config.ServerIdleTimeout, relaying);
            }
            catch (Exception e) when (e is not OutOfMemoryException)
            {
                // A transport's bug: end the connection (once: a relay that already ended is not ended again).
                TcpProxyLog.ConnectionFailed(_logger, route.RouteId, client, e);
                relaying.RelayEnded(new RelayResult(RelayEnd.ClientAborted, 0, 0));
            }

            end = null;
        }
        catch (Exception e) when (e is not OutOfMemoryException)
        {
            // A bug must end this connection only.
            TcpProxyLog.ConnectionFailed(_logger, record.RouteId, record.Client, e);
            end = record.Phase == TcpConnectionPhase.Data ? null : TcpConnectionEnd.ClientAborted;
        }
        finally
        {
            if (end is { } ended)
            {
                record.End = ended;
                Finish(io, admitted, record);
            }
        }
    }
}
