using System.Collections.Concurrent;
using System.Net;
using System.Net.Sockets;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Logging;
using ProxyKestrel.Gateway.Configuration;
using ProxyKestrel.Gateway.Lifecycle;
using ProxyKestrel.Gateway.Routing;
using Yarp.ReverseProxy;
using Yarp.ReverseProxy.Health;
using Yarp.ReverseProxy.Model;

namespace ProxyKestrel.Gateway.Udp;

/// <summary>
/// One endpoint of a UDP route, from the first datagram of a client to its access-log line: receives every datagram
/// (one buffer, no allocation per datagram), strips and checks an upstream PROXY header (<c>AcceptProxyProtocol</c>),
/// finds or opens the client's <see cref="UdpSession"/> (a destination chosen by the cluster's load balancing over its
/// healthy destinations), puts the session's header right before the payload in the same buffer and sends both in
/// one datagram. Sessions end after <c>IdleTimeout</c> without traffic, when their destination is unreachable (ICMP;
/// marked unhealthy, the client's next datagram opens a session on another one), or when the route stops.
/// </summary>
internal sealed class UdpRouteListener : IAsyncDisposable
{
    /// <summary>Room before the payload for the outgoing header: addresses, a unique id and CRC32C (upstream TLVs reuse the upstream header's room).</summary>
    private const int HeaderRoom = 256;

    private const int ReceiveSize = 65_536;

    private static readonly TimeSpan DefaultReactivationPeriod = TimeSpan.FromSeconds(30);
    private static long s_sessionIds;

    private readonly UdpRouteContext _context;
    private readonly Socket _socket;
    private readonly ProxyDatagramReceiver? _receiver;
    private readonly ConcurrentDictionary<UdpClientKey, UdpSession> _sessions = new();
    private readonly CancellationTokenSource _stopping = new();
    private readonly IPEndPoint _addressTemplate;
    private ITimer? _sweep;
    private Task _receiveLoop = Task.CompletedTask;
    private volatile bool _draining;
    private int _disposed;

    public UdpRouteListener(UdpRouteConfig route, IPEndPoint endPoint, UdpRouteContext context)
    {
        Route = route;
        _context = context;
        _socket = new Socket(endPoint.AddressFamily, SocketType.Dgram, ProtocolType.Udp);
        if (endPoint.AddressFamily == AddressFamily.InterNetworkV6 && endPoint.Address.Equals(IPAddress.IPv6Any))
        {
            _socket.DualMode = true;
        }

        if (OperatingSystem.IsWindows())
        {
            // SIO_UDP_CONNRESET off: an ICMP port unreachable for a reply must not fail the next receive.
            _socket.IOControl(unchecked((int)0x9800000C), [0, 0, 0, 0], null);
        }

        _addressTemplate = new IPEndPoint(endPoint.AddressFamily == AddressFamily.InterNetworkV6 ? IPAddress.IPv6Any : IPAddress.Any, 0);
        if (route.AcceptProxyProtocol is { } accept)
        {
            _receiver = ProxyDatagramReceiver.Create(accept);
        }

        try
        {
            _socket.Bind(endPoint);
        }
        catch
        {
            _socket.Dispose();
            throw;
        }

        LocalEndPoint = (IPEndPoint)_socket.LocalEndPoint!;
    }

    public UdpRouteConfig Route { get; }

    public IPEndPoint LocalEndPoint { get; }

    public int SessionCount => _sessions.Count;

    internal long Timestamp => _context.Time.GetTimestamp();

    public void Start()
    {
        TimeSpan period = Route.IdleTimeout / 4 < TimeSpan.FromSeconds(1) ? Route.IdleTimeout / 4 : TimeSpan.FromSeconds(1);
        _sweep = _context.Time.CreateTimer(static state => ((UdpRouteListener)state!).EndIdleSessions(), this, period, period);
        _receiveLoop = Task.Run(ReceiveLoopAsync);
        UdpProxyLog.RouteListening(_context.Logger, Route.RouteId, LocalEndPoint, Route.ClusterId);
    }

    /// <summary>Refuses new clients from now on; existing sessions go on.</summary>
    public void BeginDrain() => _draining = true;

    /// <summary>True when the reason a socket operation failed means the destination does not take datagrams.</summary>
    internal static bool IsUnreachable(SocketError error) =>
        error is SocketError.ConnectionRefused or SocketError.ConnectionReset or SocketError.HostUnreachable or SocketError.NetworkUnreachable;

    private async Task ReceiveLoopAsync()
    {
        byte[] buffer = GC.AllocateUninitializedArray<byte>(HeaderRoom + ReceiveSize, pinned: true);
        var sender = new SocketAddress(_socket.AddressFamily);
        CancellationToken stopping = _stopping.Token;
        while (!stopping.IsCancellationRequested)
        {
            int received;
            try
            {
                received = await _socket.ReceiveFromAsync(buffer.AsMemory(HeaderRoom, ReceiveSize), SocketFlags.None, sender, stopping).ConfigureAwait(false);
            }
            catch (OperationCanceledException)
            {
                break;
            }
            catch (ObjectDisposedException)
            {
                break;
            }
            catch (SocketException e) when (e.SocketErrorCode is SocketError.ConnectionReset or SocketError.MessageSize)
            {
                continue;
            }
            catch (SocketException e)
            {
                UdpProxyLog.ReceiveFailed(_context.Logger, Route.RouteId, LocalEndPoint, e.SocketErrorCode.ToString());
                break;
            }

            try
            {
                await HandleAsync(buffer, received, sender).ConfigureAwait(false);
            }
            catch (ObjectDisposedException) when (stopping.IsCancellationRequested)
            {
                break;
            }
            catch (Exception e) when (e is not OutOfMemoryException)
            {
                // A bug in handling one datagram must not stop the route: logged, counted, and the loop goes on.
                _context.Metrics.Dropped(Route.RouteId, UdpDropReason.Failed);
                UdpProxyLog.DatagramFailed(_context.Logger, Route.RouteId, e);
            }
        }
    }

    private async ValueTask HandleAsync(byte[] buffer, int received, SocketAddress sender)
    {
        int payloadOffset = HeaderRoom;
        int payloadLength = received;
        ProxyHeader upstream = default;
        bool hasUpstream = false;
        UdpClientKey key;
        if (_receiver is not null)
        {
            ProxyDatagramStatus status = _receiver.Receive(buffer.AsMemory(HeaderRoom, received), sender, out ProxyDatagram datagram);
            if (status == ProxyDatagramStatus.Rejected)
            {
                Reject(sender, datagram);
                return;
            }

            if (datagram.HasHeader)
            {
                upstream = datagram.Header;
                payloadOffset = HeaderRoom + upstream.Length;
                payloadLength = received - upstream.Length;
                hasUpstream = upstream.Command == ProxyCommand.Proxy && upstream.HasIPEndPoints;
            }
        }

        key = hasUpstream ? UdpClientKey.From(sender, upstream) : UdpClientKey.From(sender);
        if (!_sessions.TryGetValue(key, out UdpSession? session))
        {
            session = await OpenSessionAsync(key, sender, upstream, hasUpstream, failed: null).ConfigureAwait(false);
            if (session is null)
            {
                return;
            }
        }

        for (int attempt = 0; ; attempt++)
        {
            byte[] header = session.Header;
            if (header.Length + payloadLength > UdpRouteConfig.MaxDatagramSize)
            {
                Drop(sender, UdpDropReason.TooLarge);
                return;
            }

            int start = payloadOffset - header.Length;
            header.CopyTo(buffer.AsSpan(start));
            try
            {
                await session.Backend.SendAsync(buffer.AsMemory(start, header.Length + payloadLength), SocketFlags.None).ConfigureAwait(false);
                session.SentUp(payloadLength, Timestamp);
                _context.Metrics.Up(Route.RouteId, payloadLength);
                return;
            }
            catch (SocketException e) when (IsUnreachable(e.SocketErrorCode) && attempt == 0)
            {
                // An ICMP unreachable for an earlier datagram of this session: the destination is down. This datagram
                // goes to the next destination in a new session.
                DestinationUnreachable(session, e.SocketErrorCode.ToString());
                session = await OpenSessionAsync(key, sender, upstream, hasUpstream, failed: session.Destination).ConfigureAwait(false);
                if (session is null)
                {
                    return;
                }
            }
            catch (SocketException)
            {
                Drop(sender, UdpDropReason.SendFailed);
                return;
            }
            catch (ObjectDisposedException)
            {
                // The session ended meanwhile (idle sweep, reload); the datagram is lost as UDP allows.
                Drop(sender, UdpDropReason.SendFailed);
                return;
            }
        }
    }

    private async ValueTask<UdpSession?> OpenSessionAsync(UdpClientKey key, SocketAddress sender, ProxyHeader upstream, bool hasUpstream, DestinationState? failed)
    {
        if (_draining)
        {
            Drop(sender, UdpDropReason.Draining);
            return null;
        }

        if (_sessions.Count >= Route.MaxSessions)
        {
            Drop(sender, UdpDropReason.MaxSessions);
            return null;
        }

        if (!_context.Clusters.TryGetCluster(Route.ClusterId, out ClusterState? cluster))
        {
            Drop(sender, UdpDropReason.NoDestination);
            return null;
        }

        List<DestinationState> candidates = DestinationConnector.Candidates(cluster);
        if (failed is not null && candidates.Count > 1)
        {
            candidates.Remove(failed);
        }

        var problems = new List<string>();
        ClusterProxyProtocol protocol = ClusterProxyProtocol.Read(cluster.Model.Config, problems);
        if (protocol.Version == ProxyProtocolVersion.V1)
        {
            // Refused at start-up and on reload of this section; a later change of the cluster alone can bring it.
            UdpProxyLog.ClusterUnusable(_context.Logger, Route.RouteId, cluster.ClusterId, "its ProxyProtocol metadata is v1, a TCP-only header; allowed on UDP: v2 or none");
            Drop(sender, UdpDropReason.NoDestination);
            return null;
        }

        HttpContext? policyContext = null;
        while (_context.Connector.PickNext(cluster, candidates, ref policyContext) is { } destination)
        {
            IPEndPoint? target = await ResolveAsync(destination).ConfigureAwait(false);
            if (target is null)
            {
                continue;
            }

            var backend = new Socket(target.AddressFamily, SocketType.Dgram, ProtocolType.Udp);
            try
            {
                backend.Connect(target);
            }
            catch (SocketException e)
            {
                backend.Dispose();
                MarkUnhealthy(cluster, destination, e.SocketErrorCode.ToString());
                continue;
            }

            var replyTo = new SocketAddress(sender.Family, sender.Size);
            sender.Buffer.Span.CopyTo(replyTo.Buffer.Span);
            var senderEndPoint = (IPEndPoint)_addressTemplate.Create(replyTo);
            IPEndPoint client = hasUpstream ? upstream.GetSourceEndPoint()! : senderEndPoint;
            IPEndPoint dialled = hasUpstream ? upstream.GetDestinationEndPoint()! : LocalEndPoint;
            byte[] header = BuildHeader(protocol, client, dialled, upstream, hasUpstream);
            var session = new UdpSession(this, key, replyTo, client, cluster, destination, backend, header, Timestamp, _context.Time.GetLocalNow());
            _sessions[key] = session;
            _context.Counts.Opened(Route.RouteId, cluster.ClusterId, destination.DestinationId);
            _context.Metrics.Opened(Route.RouteId);
            _ = session.RelayRepliesAsync();
            return session;
        }

        Drop(sender, UdpDropReason.NoDestination);
        return null;
    }

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

    private async ValueTask<IPEndPoint?> ResolveAsync(DestinationState destination)
    {
        if (!UdpDestination.TryEndPointOf(destination.Model.Config, out EndPoint? endPoint))
        {
            UdpProxyLog.DestinationUnreachable(_context.Logger, Route.RouteId, destination.DestinationId, destination.Model.Config.Address, Route.ClusterId, "not a udp://HOST:PORT address");
            return null;
        }

        if (endPoint is IPEndPoint ip)
        {
            return ip;
        }

        var name = (DnsEndPoint)endPoint;
        ConnectResult result = await DnsLookup.ResolveAsync(name.Host, _stopping.Token).ConfigureAwait(false);
        if (result.Addresses is { Length: > 0 } addresses)
        {
            return new IPEndPoint(addresses[0], name.Port);
        }

        UdpProxyLog.DestinationUnreachable(_context.Logger, Route.RouteId, destination.DestinationId, destination.Model.Config.Address, Route.ClusterId, result.Reason ?? "no address");
        return null;
    }

    internal ValueTask<int> SendToClientAsync(ReadOnlyMemory<byte> datagram, SocketAddress client) =>
        _socket.SendToAsync(datagram, SocketFlags.None, client, _stopping.Token);

    internal void CountDown(int bytes) => _context.Metrics.Down(Route.RouteId, bytes);

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

    internal void ReplyFailed(UdpSession session, string reason) => End(session, "server_error", "SD");

    private void MarkUnhealthy(ClusterState cluster, DestinationState destination, string reason)
    {
        UdpProxyLog.DestinationUnreachable(_context.Logger, Route.RouteId, destination.DestinationId, destination.Model.Config.Address, cluster.ClusterId, reason);
        TimeSpan reactivation = cluster.Model.Config.HealthCheck?.Passive?.ReactivationPeriod ?? DefaultReactivationPeriod;
        _context.HealthUpdater.SetPassive(cluster, destination, DestinationHealth.Unhealthy, reactivation);
    }

    private void EndIdleSessions()
    {
        long now = Timestamp;
        foreach (KeyValuePair<UdpClientKey, UdpSession> entry in _sessions)
        {
            if (_context.Time.GetElapsedTime(entry.Value.LastActivity, now) >= Route.IdleTimeout)
            {
                End(entry.Value, "idle_timeout", "--");
            }
        }
    }

    private void End(UdpSession session, string result, string termination)
    {
        if (!session.TryMarkEnded())
        {
            return;
        }

        _sessions.TryRemove(new KeyValuePair<UdpClientKey, UdpSession>(session.Key, session));
        session.Backend.Dispose();
        UdpSessionCounts.Snapshot counts = _context.Counts.Closed(Route.RouteId, session.Cluster.ClusterId, session.Destination.DestinationId);
        _context.Metrics.Ended(Route.RouteId, result);
        if (_context.AccessLog.IsEnabled)
        {
            long totalMs = (long)_context.Time.GetElapsedTime(session.StartTimestamp).TotalMilliseconds;
            _context.AccessLog.Write(session.Client, session.Started, Route.RouteId, session.Cluster.ClusterId, session.Destination.DestinationId, totalMs, session.BytesDown, termination, counts);
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
        _context.Metrics.Dropped(Route.RouteId, reason);
        ILogger logger = _context.Logger;
        if (logger.IsEnabled(LogLevel.Information))
        {
            string detail = datagram.Error != ProxyParseError.None ? datagram.Error.ToString() : datagram.Rejection.ToString();
            EndPoint from = _addressTemplate.Create(sender);
            UdpProxyLog.HeaderRejected(logger, Route.RouteId, from, reason, detail);
        }
    }

    private void Drop(SocketAddress sender, string reason)
    {
        _context.Metrics.Dropped(Route.RouteId, reason);
        ILogger logger = _context.Logger;
        if (logger.IsEnabled(LogLevel.Debug))
        {
            EndPoint from = _addressTemplate.Create(sender);
            UdpProxyLog.DatagramDropped(logger, Route.RouteId, from, reason);
        }
    }

    /// <summary>Stops receiving and ends every session (logged with termination <c>KD</c>).</summary>
    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0)
        {
            return;
        }

        _stopping.Cancel();
        _sweep?.Dispose();
        _socket.Dispose();
        await _receiveLoop.ConfigureAwait(false);
        foreach (KeyValuePair<UdpClientKey, UdpSession> entry in _sessions)
        {
            End(entry.Value, "killed", "KD");
        }

        UdpProxyLog.RouteStopped(_context.Logger, Route.RouteId, LocalEndPoint);
    }
}
