using System.Net;
using System.Net.Sockets;
using System.Runtime.Versioning;
using Microsoft.AspNetCore.Http;
using Yarp.ReverseProxy.Model;
using static ProxyKestrel.Gateway.Transports.Epoll.LinuxNative;

namespace ProxyKestrel.Gateway.Udp;

/// <summary>
/// The Linux transport of a UDP route endpoint: one non-blocking socket per <see cref="UdpEpollLoop"/>, all bound to
/// the endpoint with <c>SO_REUSEPORT</c>, so the kernel spreads clients over the loops and keeps each client on one.
/// A datagram is handled on its loop's thread from <c>recvmmsg</c> to the <c>send</c> on the session's socket: the
/// header is put right before the payload in the receive buffer, nothing is copied or allocated per datagram.
/// Backend names (DNS) are looked up off the loop; until the first answer, a new client's datagrams are dropped
/// (<c>resolving</c>) and its retries find the address.
/// </summary>
[SupportedOSPlatform("linux")]
internal sealed class UdpEpollListener : UdpRouteEndpoint
{
    private static readonly TimeSpan ResolvedLifetime = TimeSpan.FromSeconds(30);

    private readonly UdpEpollLoop[] _loops;
    private readonly (int Fd, int Slot)[] _sockets;
    private readonly Dictionary<DnsEndPoint, (IPEndPoint? Address, long Expires)> _resolved = [];
    private int _disposed;

    public UdpEpollListener(UdpRouteConfig route, IPEndPoint endPoint, UdpRouteContext context, UdpEpollLoop[] loops)
        : base(route, endPoint, context)
    {
        _loops = loops;
        _sockets = new (int, int)[loops.Length];
        IPEndPoint bind = endPoint;
        try
        {
            for (int i = 0; i < loops.Length; i++)
            {
                _sockets[i] = (BindSocket(bind), -1);
                if (i == 0)
                {
                    // Port 0: the others bind the port the first one got.
                    bind = LocalEndPoint(_sockets[0].Fd) ?? endPoint;
                }
            }
        }
        catch
        {
            foreach ((int fd, _) in _sockets)
            {
                if (fd > 0)
                {
                    Close(fd);
                }
            }

            throw;
        }

        LocalEndPoint = bind;
    }

    public override IPEndPoint LocalEndPoint { get; }

    protected override void StartReceiving()
    {
        for (int i = 0; i < _loops.Length; i++)
        {
            int index = i;
            UdpEpollLoop loop = _loops[i];
            loop.InvokeAsync(() => _sockets[index].Slot = loop.Register(_sockets[index].Fd, new UdpEpollSocket(this, _sockets[index].Fd)))
                .GetAwaiter().GetResult();
        }
    }

    /// <summary>One received datagram, on <paramref name="loop"/>'s thread; <paramref name="offset"/> is its slot in <paramref name="area"/>.</summary>
    internal unsafe void OnDatagram(UdpEpollLoop loop, int listenerFd, byte[] area, int offset, int length, bool truncated, SocketAddress sender)
    {
        try
        {
            if (truncated)
            {
                Drop(sender, UdpDropReason.TooLarge);
                return;
            }

            int payloadStart = offset + UdpEpollLoop.ReceiveSlot - ReceiveSize;
            if (!TryAccept(area.AsMemory(payloadStart, length), sender, out UdpDatagram datagram))
            {
                return;
            }

            UdpEpollSession? session = Sessions.TryGetValue(datagram.Key, out UdpSession? found)
                ? (UdpEpollSession)found
                : Open(loop, listenerFd, sender, datagram, failed: null);
            int payloadOffset = payloadStart + datagram.HeaderLength;
            for (int attempt = 0; session is not null; attempt++)
            {
                if (!Fits(session, datagram.PayloadLength, sender))
                {
                    return;
                }

                byte[] header = session.Header;
                int start = payloadOffset - header.Length;
                header.CopyTo(area.AsSpan(start));
                nint sent;
                fixed (byte* data = &area[start])
                {
                    sent = Send(session.Fd, data, (nuint)(header.Length + datagram.PayloadLength), MsgDontWait | MsgNoSignal);
                }

                if (sent >= 0)
                {
                    SentUp(session, datagram.PayloadLength);
                    return;
                }

                int errno = Errno;
                if (errno is EConnRefused or 104 or 101 or 113 && attempt == 0)
                {
                    // An ICMP unreachable for an earlier datagram: this one goes to the next destination.
                    DestinationUnreachable(session, ErrorType(errno));
                    session = Open(loop, listenerFd, sender, datagram, failed: session.Destination);
                    continue;
                }

                Drop(sender, UdpDropReason.SendFailed);
                return;
            }
        }
        catch (Exception e) when (e is not OutOfMemoryException)
        {
            Failed(e);
        }
    }

    /// <summary>A reply could not be sent to its client.</summary>
    internal void ReplyDropped() => Context.Metrics.Dropped(Route.RouteId, UdpDropReason.SendFailed);

    private unsafe UdpEpollSession? Open(UdpEpollLoop loop, int listenerFd, SocketAddress sender, in UdpDatagram datagram, DestinationState? failed)
    {
        if (!TryPlanSession(sender, failed, out UdpSessionPlan plan))
        {
            return null;
        }

        HttpContext? policyContext = null;
        while (NextDestination(plan, ref policyContext) is { } destination)
        {
            if (!TryTarget(destination, out EndPoint target))
            {
                continue;
            }

            IPEndPoint? address = target as IPEndPoint ?? Resolved(loop, (DnsEndPoint)target);
            if (address is null)
            {
                Drop(sender, UdpDropReason.Resolving);
                return null;
            }

            int fd = Socket(address.AddressFamily == AddressFamily.InterNetworkV6 ? AfInet6 : AfInet, SockDgram | SockNonBlock | SockCloExec, 0);
            if (fd < 0)
            {
                Drop(sender, UdpDropReason.SendFailed);
                return null;
            }

            byte* name = stackalloc byte[SockAddrSize];
            uint nameLength = WriteSockAddr(address, name);
            if (Connect(fd, name, nameLength) != 0)
            {
                string reason = ErrorType(Errno);
                Close(fd);
                MarkUnhealthy(plan.Cluster, destination, reason);
                continue;
            }

            var session = new UdpEpollSession(this, loop, listenerFd, Describe(sender, datagram, plan, destination), fd);
            session.Slot = loop.Register(fd, session);
            Opened(session);
            return session;
        }

        Drop(sender, UdpDropReason.NoDestination);
        return null;
    }

    /// <summary>The cached address of a destination's name; null (and a lookup started) when there is none yet.</summary>
    private IPEndPoint? Resolved(UdpEpollLoop loop, DnsEndPoint name)
    {
        long now = Timestamp;
        lock (_resolved)
        {
            if (_resolved.TryGetValue(name, out (IPEndPoint? Address, long Expires) entry) && (entry.Address is null || now < entry.Expires))
            {
                // Null: a lookup is under way.
                return entry.Address;
            }

            _resolved[name] = (null, long.MaxValue);
        }

        _ = Task.Run(async () =>
        {
            Lifecycle.ConnectResult result = await Lifecycle.DnsLookup.ResolveAsync(name.Host, CancellationToken.None).ConfigureAwait(false);
            lock (_resolved)
            {
                if (result.Addresses is { Length: > 0 } addresses)
                {
                    _resolved[name] = (new IPEndPoint(addresses[0], name.Port), Timestamp + (long)(ResolvedLifetime.TotalSeconds * Context.Time.TimestampFrequency));
                }
                else
                {
                    _resolved.Remove(name);
                }
            }
        });
        return null;
    }

    private static unsafe int BindSocket(IPEndPoint endPoint)
    {
        bool v6 = endPoint.AddressFamily == AddressFamily.InterNetworkV6;
        int fd = Socket(v6 ? AfInet6 : AfInet, SockDgram | SockNonBlock | SockCloExec, 0);
        if (fd < 0)
        {
            throw new SocketException(Errno);
        }

        SetInt(fd, SolSocket, SoReusePort, 1);
        if (v6)
        {
            SetInt(fd, IpProtoIPv6, IPv6V6Only, 0);
        }

        byte* name = stackalloc byte[SockAddrSize];
        uint length = WriteSockAddr(endPoint, name);
        if (Bind(fd, name, length) != 0)
        {
            int errno = Errno;
            Close(fd);
            throw new SocketException(errno);
        }

        return fd;
    }

    /// <summary>Stops receiving (each loop closes its socket) and ends every session (<c>KD</c>).</summary>
    public override async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0)
        {
            return;
        }

        for (int i = 0; i < _loops.Length; i++)
        {
            int index = i;
            UdpEpollLoop loop = _loops[i];
            await loop.InvokeAsync(() =>
            {
                (int fd, int slot) = _sockets[index];
                if (slot >= 0)
                {
                    loop.CloseRegistered(fd, slot);
                }
                else
                {
                    Close(fd);
                }
            }).ConfigureAwait(false);
        }

        EndAll();
    }
}
