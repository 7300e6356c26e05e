using System.Net;
using System.Net.Sockets;
using Microsoft.AspNetCore.Http;
using ProxyKestrel.Gateway.Lifecycle;
using Yarp.ReverseProxy.Model;

namespace ProxyKestrel.Gateway.Udp;

/// <summary>
/// The portable transport of a UDP route endpoint (<c>System.Net.Sockets</c>): one receive loop on one socket and one
/// buffer, no allocation per datagram; the session's header goes right before the payload in that buffer and both
/// leave in one send on the session's connected socket. Replies are relayed by <see cref="UdpSocketSession"/>.
/// </summary>
internal sealed class UdpSocketListener : UdpRouteEndpoint
{
    private readonly Socket _socket;
    private readonly CancellationTokenSource _stopping = new();
    private Task _receiveLoop = Task.CompletedTask;
    private int _disposed;

    public UdpSocketListener(UdpRouteConfig route, IPEndPoint endPoint, UdpRouteContext context)
        : base(route, endPoint, context)
    {
        _socket = new Socket(endPoint.AddressFamily, SocketType.Dgram, ProtocolType.Udp);
        try
        {
            if (endPoint.AddressFamily == AddressFamily.InterNetworkV6 && endPoint.Address.Equals(IPAddress.IPv6Any))
            {
                _socket.DualMode = true;
            }

            if (OperatingSystem.IsWindows())
            {
                // SIO_UDP_CONNRESET off: an ICMP port unreachable for a reply must not fail the next receive.
                _socket.IOControl(unchecked((int)0x9800000C), [0, 0, 0, 0], null);
            }

            _socket.Bind(endPoint);
        }
        catch
        {
            _socket.Dispose();
            throw;
        }

        LocalEndPoint = (IPEndPoint)_socket.LocalEndPoint!;
    }

    public override IPEndPoint LocalEndPoint { get; }

    protected override void StartReceiving() => _receiveLoop = Task.Run(ReceiveLoopAsync);

    /// <summary>
    /// Sends a reply to its client. Synchronous: every session's reply loop sends on this one socket at once, and the
    /// <c>SendToAsync(..., SocketAddress, ...)</c> overload shares one cached operation per socket that concurrent
    /// callers corrupted (a <see cref="NullReferenceException"/> inside it, found by eng/bench/udp); a datagram send does
    /// not wait unless the socket's send buffer is full.
    /// </summary>
    internal int SendToClient(ReadOnlySpan<byte> datagram, SocketAddress client) =>
        _socket.SendTo(datagram, SocketFlags.None, client);

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
            catch (Exception e) when (e is OperationCanceledException or ObjectDisposedException)
            {
                break;
            }
            catch (SocketException e) when (e.SocketErrorCode is SocketError.ConnectionReset or SocketError.MessageSize)
            {
                continue;
            }
            catch (SocketException e)
            {
                UdpProxyLog.ReceiveFailed(Context.Logger, Route.RouteId, LocalEndPoint, e.SocketErrorCode.ToString());
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
                // A bug in handling one datagram must not stop the route.
                Failed(e);
            }
        }
    }

    private async ValueTask HandleAsync(byte[] buffer, int received, SocketAddress sender)
    {
        if (!TryAccept(buffer.AsMemory(HeaderRoom, received), sender, out UdpDatagram datagram))
        {
            return;
        }

        UdpSocketSession? session = Sessions.TryGetValue(datagram.Key, out UdpSession? found)
            ? (UdpSocketSession)found
            : await OpenSessionAsync(sender, datagram, failed: null).ConfigureAwait(false);
        if (session is null)
        {
            return;
        }

        int payloadOffset = HeaderRoom + datagram.HeaderLength;
        for (int attempt = 0; ; attempt++)
        {
            if (!Fits(session, datagram.PayloadLength, sender))
            {
                return;
            }

            byte[] header = session.Header;
            int start = payloadOffset - header.Length;
            header.CopyTo(buffer.AsSpan(start));
            try
            {
                await session.Backend.SendAsync(buffer.AsMemory(start, header.Length + datagram.PayloadLength), SocketFlags.None).ConfigureAwait(false);
                SentUp(session, datagram.PayloadLength);
                return;
            }
            catch (SocketException e) when (IsUnreachable(e.SocketErrorCode) && attempt == 0)
            {
                // An ICMP unreachable for an earlier datagram of this session: the destination is down. This datagram
                // goes to the next destination in a new session.
                DestinationUnreachable(session, e.SocketErrorCode.ToString());
                UdpSocketSession? next = await OpenSessionAsync(sender, datagram, failed: session.Destination).ConfigureAwait(false);
                if (next is null)
                {
                    return;
                }

                session = next;
            }
            catch (Exception e) when (e is SocketException or ObjectDisposedException)
            {
                // Or the session ended meanwhile (idle sweep, reload): the datagram is lost, as UDP allows.
                Drop(sender, UdpDropReason.SendFailed);
                return;
            }
        }
    }

    private async ValueTask<UdpSocketSession?> OpenSessionAsync(SocketAddress sender, UdpDatagram datagram, DestinationState? failed)
    {
        if (!TryPlanSession(sender, failed, out UdpSessionPlan plan))
        {
            return null;
        }

        HttpContext? policyContext = null;
        while (NextDestination(plan, ref policyContext) is { } destination)
        {
            if (!TryTarget(destination, out EndPoint target) || await ResolveAsync(destination, target).ConfigureAwait(false) is not { } address)
            {
                continue;
            }

            var backend = new Socket(address.AddressFamily, SocketType.Dgram, ProtocolType.Udp);
            try
            {
                backend.Connect(address);
            }
            catch (SocketException e)
            {
                backend.Dispose();
                MarkUnhealthy(plan.Cluster, destination, e.SocketErrorCode.ToString());
                continue;
            }

            var session = new UdpSocketSession(this, Describe(sender, datagram, plan, destination), backend);
            Opened(session);
            _ = session.RelayRepliesAsync();
            return session;
        }

        Drop(sender, UdpDropReason.NoDestination);
        return null;
    }

    private async ValueTask<IPEndPoint?> ResolveAsync(DestinationState destination, EndPoint target)
    {
        if (target is IPEndPoint ip)
        {
            return ip;
        }

        var name = (DnsEndPoint)target;
        ConnectResult result = await DnsLookup.ResolveAsync(name.Host, _stopping.Token).ConfigureAwait(false);
        if (result.Addresses is { Length: > 0 } addresses)
        {
            return new IPEndPoint(addresses[0], name.Port);
        }

        UdpProxyLog.DestinationUnreachable(Context.Logger, Route.RouteId, destination.DestinationId, destination.Model.Config.Address, Route.ClusterId, result.Reason ?? "no address");
        return null;
    }

    /// <summary>Stops receiving and ends every session (logged with termination <c>KD</c>).</summary>
    public override async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0)
        {
            return;
        }

        _stopping.Cancel();
        _socket.Dispose();
        await _receiveLoop.ConfigureAwait(false);
        EndAll();
    }
}
