using System.Collections.Concurrent;
using System.Net;
using System.Net.Sockets;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Logging;
using ProxyKestrel.Gateway.Configuration;
using ProxyKestrel.Gateway.Lifecycle;
using ProxyKestrel.Gateway.Routing;
using Yarp.ReverseProxy.Health;
using Yarp.ReverseProxy.Model;

namespace ProxyKestrel.Gateway.Udp;

/// <summary>
/// One endpoint of a UDP route, from a client's first datagram to its access-log line, whatever the transport
/// (<see cref="UdpSocketListener"/>; on Linux the epoll listener) that moves the bytes: checks and strips an
/// upstream PROXY header (<c>AcceptProxyProtocol</c>), finds the client's <see cref="UdpSession"/> or admits a new one
/// (draining, <c>MaxSessions</c>, the cluster's destinations by its load balancing over the healthy ones), builds the
/// session's header once, and ends sessions: after <c>IdleTimeout</c> without traffic, when the destination is
/// unreachable (ICMP; marked unhealthy, the client's next datagram opens a session on another), or when the route stops.
/// </summary>
internal abstract class UdpRouteEndpoint : IAsyncDisposable
{
    /// <summary>
    /// Room before the payload for the outgoing header: addresses, a unique id and CRC32C. Upstream TLVs passed on
    /// reuse the room of the upstream header they came in.
    /// </summary>
    protected const int HeaderRoom = 256;

    /// <summary>Bytes a receive takes (a datagram larger than this cannot arrive over IP).</summary>
    protected const int ReceiveSize = 65_536;

    private static readonly TimeSpan DefaultReactivationPeriod = TimeSpan.FromSeconds(30);
    private static long s_sessionIds;

    private readonly ProxyDatagramReceiver? _receiver;
    private readonly IPEndPoint _addressTemplate;
    private ITimer? _sweep;
    private volatile bool _draining;
    private Yarp.ReverseProxy.Configuration.ClusterConfig? _unusableLogged;

    protected UdpRouteEndpoint(UdpRouteConfig route, IPEndPoint endPoint, UdpRouteContext context)
    {
        Route = route;
        Context = context;
        _addressTemplate = new IPEndPoint(endPoint.AddressFamily == AddressFamily.InterNetworkV6 ? IPAddress.IPv6Any : IPAddress.Any, 0);
        if (route.AcceptProxyProtocol is { } accept)
        {
            _receiver = ProxyDatagramReceiver.Create(accept);
        }
    }

    public UdpRouteConfig Route { get; }

    public abstract IPEndPoint LocalEndPoint { get; }

    public int SessionCount => Sessions.Count;

    protected UdpRouteContext Context { get; }

    protected ConcurrentDictionary<UdpClientKey, UdpSession> Sessions { get; } = new();

    internal long Timestamp => Context.Time.GetTimestamp();

    /// <summary>Starts receiving and the idle sweep.</summary>
    public void Start()
    {
        TimeSpan period = Route.IdleTimeout / 4 < TimeSpan.FromSeconds(1) ? Route.IdleTimeout / 4 : TimeSpan.FromSeconds(1);
        _sweep = Context.Time.CreateTimer(static state => ((UdpRouteEndpoint)state!).EndIdleSessions(), this, period, period);
        StartReceiving();
        UdpProxyLog.RouteListening(Context.Logger, Route.RouteId, LocalEndPoint, Route.ClusterId);
    }

    /// <summary>Refuses new clients from now on; existing sessions go on.</summary>
    public void BeginDrain() => _draining = true;

    /// <summary>True when the reason a socket operation failed means the destination does not take datagrams.</summary>
    internal static bool IsUnreachable(SocketError error) =>
        error is SocketError.ConnectionRefused or SocketError.ConnectionReset or SocketError.HostUnreachable or SocketError.NetworkUnreachable;

    protected abstract void StartReceiving();

    /// <summary>
    /// Step 1 of a datagram: checks an upstream header (an <c>AcceptProxyProtocol</c> route) and keys the client. False:
    /// rejected, logged and counted.
    /// </summary>
    protected bool TryAccept(ReadOnlyMemory<byte> datagram, SocketAddress sender, out UdpDatagram accepted)
    {
        ProxyHeader upstream = default;
        bool hasUpstream = false;
        int headerLength = 0;
        if (_receiver is not null)
        {
            if (_receiver.Receive(datagram, sender, out ProxyDatagram received) == ProxyDatagramStatus.Rejected)
            {
                Reject(sender, received);
                accepted = default;
                return false;
            }

            if (received.HasHeader)
            {
                upstream = received.Header;
                headerLength = upstream.Length;
                hasUpstream = upstream.Command == ProxyCommand.Proxy && upstream.HasIPEndPoints;
            }
        }

        UdpClientKey key = hasUpstream ? UdpClientKey.From(sender, upstream) : UdpClientKey.From(sender);
        accepted = new UdpDatagram(key, headerLength, datagram.Length - headerLength, upstream, hasUpstream);
        return true;
    }

    /// <summary>
    /// Step 2 for a new client: admission (draining, <c>MaxSessions</c>, a usable cluster) and the destinations to
    /// try, without <paramref name="failed"/> when another is left. False: dropped, logged and counted.
    /// </summary>
    protected bool TryPlanSession(SocketAddress sender, DestinationState? failed, out UdpSessionPlan plan)
    {
        plan = default;
        if (_draining)
        {
            Drop(sender, UdpDropReason.Draining);
            return false;
        }

        if (Context.Counts.OfRoute(Route.RouteId) >= Route.MaxSessions)
        {
            Drop(sender, UdpDropReason.MaxSessions);
            return false;
        }

        if (!Context.Clusters.TryGetCluster(Route.ClusterId, out ClusterState? cluster))
        {
            Drop(sender, UdpDropReason.NoDestination);
            return false;
        }

        ClusterProxyProtocol protocol = ClusterProxyProtocol.Read(cluster.Model.Config, []);
        if (protocol.Version == ProxyProtocolVersion.V1)
        {
            // Refused at start-up and on reload of this section; a later change of the cluster alone can bring it.
            if (!ReferenceEquals(Volatile.Read(ref _unusableLogged), cluster.Model.Config))
            {
                // Once per cluster change, not per datagram.
                Volatile.Write(ref _unusableLogged, cluster.Model.Config);
                UdpProxyLog.ClusterUnusable(Context.Logger, Route.RouteId, cluster.ClusterId, "its ProxyProtocol metadata is v1, a TCP-only header; allowed on UDP: v2 or none");
            }

            Drop(sender, UdpDropReason.NoDestination);
            return false;
        }

        List<DestinationState> candidates = DestinationConnector.Candidates(cluster);
        if (failed is not null && candidates.Count > 1)
        {
            candidates.Remove(failed);
        }

        plan = new UdpSessionPlan(cluster, protocol, candidates);
        return true;
    }

    /// <summary>The next destination of <paramref name="plan"/> to try, by the cluster's load-balancing policy; null when none is left.</summary>
    protected DestinationState? NextDestination(in UdpSessionPlan plan, ref HttpContext? policyContext) =>
        Context.Connector.PickNext(plan.Cluster, plan.Candidates, ref policyContext);

    /// <summary>The destination's address; false (logged) when it is not <c>udp://HOST:PORT</c>.</summary>
    protected bool TryTarget(DestinationState destination, out EndPoint target)
    {
        if (UdpDestination.TryEndPointOf(destination.Model.Config, out EndPoint? endPoint))
        {
            target = endPoint;
            return true;
        }

        UdpProxyLog.DestinationUnreachable(Context.Logger, Route.RouteId, destination.DestinationId, destination.Model.Config.Address, Route.ClusterId, "not a udp://HOST:PORT address");
        target = null!;
        return false;
    }

    /// <summary>
    /// Step 3: what a session to <paramref name="destination"/> starts with: a copy of the sender's address for the
    /// replies, the real client and the header its datagrams carry.
    /// </summary>
    protected UdpSessionStart Describe(SocketAddress sender, in UdpDatagram datagram, in UdpSessionPlan plan, DestinationState destination)
    {
        var replyTo = new SocketAddress(sender.Family, sender.Size);
        sender.Buffer.Span.CopyTo(replyTo.Buffer.Span);
        IPEndPoint client = datagram.HasUpstream ? datagram.Upstream.GetSourceEndPoint()! : (IPEndPoint)_addressTemplate.Create(replyTo);
        IPEndPoint dialled = datagram.HasUpstream ? datagram.Upstream.GetDestinationEndPoint()! : LocalEndPoint;
        byte[] header = BuildHeader(plan.Protocol, client, dialled, datagram.Upstream, datagram.HasUpstream);
        return new UdpSessionStart(datagram.Key, replyTo, client, plan.Cluster, destination, header, Timestamp, Context.Time.GetLocalNow());
    }

    /// <summary>Step 4: the session is open (its socket connected): counted, and found by the client's next datagrams.</summary>
    protected void Opened(UdpSession session)
    {
        Sessions[session.Key] = session;
        Context.Counts.Opened(Route.RouteId, session.Cluster.ClusterId, session.Destination.DestinationId);
        Context.Metrics.Opened(Route.RouteId);
    }

    /// <summary>False (dropped, counted) when the session's header and the payload do not fit in one datagram.</summary>
    protected bool Fits(UdpSession session, int payloadLength, SocketAddress sender)
    {
        if (session.Header.Length + payloadLength <= UdpRouteConfig.MaxDatagramSize)
        {
            return true;
        }

        Drop(sender, UdpDropReason.TooLarge);
        return false;
    }

    /// <summary>A datagram went to the backend.</summary>
    protected void SentUp(UdpSession session, int payloadLength)
    {
        session.CountUp(payloadLength, Timestamp);
        Context.Metrics.Up(Route.RouteId, payloadLength);
    }

    /// <summary>A reply went to the client.</summary>
    internal void SentDown(UdpSession session, int bytes)
    {
        session.CountDown(bytes, Timestamp);
        Context.Metrics.Down(Route.RouteId, bytes);
    }

    /// <summary>The session's destination reported ICMP unreachable: it is marked unhealthy and the session ends.</summary>
    internal void DestinationUnreachable(UdpSession session, string reason)
    {
        if (session.IsEnded)
        {
            return;
        }

        MarkUnhealthy(session.Cluster, session.Destination, reason);
        End(session, "destination_unreachable", "SC");
    }

    /// <summary>Replies could not be read or passed on.</summary>
    internal void ReplyFailed(UdpSession session) => End(session, "server_error", "SD");

    /// <summary>Relaying replies failed unexpectedly: logged with the exception (179), counted, and the session ends.</summary>
    internal void ReplyLoopFailed(UdpSession session, Exception exception)
    {
        Failed(exception);
        End(session, "server_error", "SD");
    }

    protected void MarkUnhealthy(ClusterState cluster, DestinationState destination, string reason)
    {
        UdpProxyLog.DestinationUnreachable(Context.Logger, Route.RouteId, destination.DestinationId, destination.Model.Config.Address, cluster.ClusterId, reason + "; marked unhealthy");
        TimeSpan reactivation = cluster.Model.Config.HealthCheck?.Passive?.ReactivationPeriod ?? DefaultReactivationPeriod;
        Context.HealthUpdater.SetPassive(cluster, destination, DestinationHealth.Unhealthy, reactivation);
    }

    /// <summary>Ends the session once: removed, its socket closed, counted and logged.</summary>
    internal void End(UdpSession session, string result, string termination)
    {
        if (!session.TryMarkEnded())
        {
            return;
        }

        Sessions.TryRemove(new KeyValuePair<UdpClientKey, UdpSession>(session.Key, session));
        session.CloseBackend();
        UdpSessionCounts.Snapshot counts = Context.Counts.Closed(Route.RouteId, session.Cluster.ClusterId, session.Destination.DestinationId);
        Context.Metrics.Ended(Route.RouteId, result);
        if (Context.AccessLog.IsEnabled)
        {
            long totalMs = (long)Context.Time.GetElapsedTime(session.StartTimestamp).TotalMilliseconds;
            Context.AccessLog.Write(session.Client, session.Started, Route.RouteId, session.Cluster.ClusterId, session.Destination.DestinationId, totalMs, session.BytesDown, termination, counts);
        }
    }

    protected void Drop(SocketAddress sender, string reason)
    {
        Context.Metrics.Dropped(Route.RouteId, reason);
        ILogger logger = Context.Logger;
        if (logger.IsEnabled(LogLevel.Debug))
        {
            EndPoint from = _addressTemplate.Create(sender);
            UdpProxyLog.DatagramDropped(logger, Route.RouteId, from, reason);
        }
    }

    /// <summary>Handling a datagram failed unexpectedly: logged and counted; the route goes on.</summary>
    protected void Failed(Exception exception)
    {
        Context.Metrics.Dropped(Route.RouteId, UdpDropReason.Failed);
        UdpProxyLog.DatagramFailed(Context.Logger, Route.RouteId, exception);
    }

    /// <summary>Stops the sweep and ends every session (<c>KD</c>); the transport stops receiving first.</summary>
    protected void EndAll()
    {
        _sweep?.Dispose();
        foreach (KeyValuePair<UdpClientKey, UdpSession> entry in Sessions)
        {
            End(entry.Value, "killed", "KD");
        }

        UdpProxyLog.RouteStopped(Context.Logger, Route.RouteId, LocalEndPoint);
    }

    public abstract ValueTask DisposeAsync();

    private static byte[] BuildHeader(ClusterProxyProtocol protocol, IPEndPoint client, IPEndPoint dialled, in ProxyHeader upstream, bool hasUpstream)
    {
        if (protocol.Version != ProxyProtocolVersion.V2)
        {
            return [];
        }

        string id = "U" + Interlocked.Increment(ref s_sessionIds).ToString("X12", System.Globalization.CultureInfo.InvariantCulture);
        int length = ProxyHeaderBuilder.Build(protocol, client, dialled, upstream, hasUpstream, serverName: null, id, ProxyTransport.Datagram, out byte[] rented);
        try
        {
            return rented.AsSpan(0, length).ToArray();
        }
        finally
        {
            System.Buffers.ArrayPool<byte>.Shared.Return(rented);
        }
    }

    private void EndIdleSessions()
    {
        long now = Timestamp;
        foreach (KeyValuePair<UdpClientKey, UdpSession> entry in Sessions)
        {
            if (Context.Time.GetElapsedTime(entry.Value.LastActivity, now) >= Route.IdleTimeout)
            {
                End(entry.Value, "idle_timeout", "--");
            }
        }
    }

    private void Reject(SocketAddress sender, in ProxyDatagram datagram)
    {
        string reason = datagram.Rejection switch
        {
            ProxyDatagramRejection.UntrustedPeer => UdpDropReason.UntrustedPeer,
            ProxyDatagramRejection.MissingHeader => UdpDropReason.MissingHeader,
            _ => UdpDropReason.InvalidHeader,
        };
        Context.Metrics.Dropped(Route.RouteId, reason);
        ILogger logger = Context.Logger;
        if (logger.IsEnabled(LogLevel.Information))
        {
            string detail = datagram.Error != ProxyParseError.None ? datagram.Error.ToString() : datagram.Rejection.ToString();
            EndPoint from = _addressTemplate.Create(sender);
            UdpProxyLog.HeaderRejected(logger, Route.RouteId, from, reason, detail);
        }
    }
}

/// <summary>A received datagram, accepted: its client's key, the upstream header (if any) and where the payload is.</summary>
internal readonly struct UdpDatagram(UdpClientKey key, int headerLength, int payloadLength, ProxyHeader upstream, bool hasUpstream)
{
    public UdpClientKey Key { get; } = key;

    /// <summary>The length of the upstream header before the payload (0 without one).</summary>
    public int HeaderLength { get; } = headerLength;

    public int PayloadLength { get; } = payloadLength;

    public ProxyHeader Upstream { get; } = upstream;

    /// <summary>True when the upstream header names a client (command PROXY with IP addresses).</summary>
    public bool HasUpstream { get; } = hasUpstream;
}

/// <summary>A new session's cluster, header version and the destinations left to try.</summary>
internal readonly record struct UdpSessionPlan(ClusterState Cluster, ClusterProxyProtocol Protocol, List<DestinationState> Candidates);
