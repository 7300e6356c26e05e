using System.Buffers;
using System.Net;
using System.Net.Sockets;
using System.Runtime.Versioning;
using Microsoft.AspNetCore.Http;
using ProxyKestrel.Gateway.Configuration;
using ProxyKestrel.Gateway.Routing;
using Yarp.ReverseProxy.Model;
using static ProxyKestrel.Gateway.Relay.Epoll.LinuxNative;

namespace ProxyKestrel.Gateway.Relay.Epoll;

/// <summary>
/// One client connection of a TCP route on an event loop, as a state machine driven by edge-triggered events: the
/// same steps as <see cref="TcpProxyConnectionHandler"/> (client filter, MaxConnections, the PROXY header from an
/// upstream proxy, the SNI peek, destination choice with failover, the PROXY header to the backend before any client
/// byte) and then the relay: each direction reads into a 64 KiB pooled buffer only when data is there, writes it on
/// at once, stops reading while the other side does not take it (backpressure), passes each FIN on after the data,
/// and gives the buffer back as soon as it is empty, so an idle connection holds no buffer.
/// </summary>
[SupportedOSPlatform("linux")]
internal sealed partial class EpollConnection
{
    private const int RelayBufferSize = 64 * 1024;

    /// <summary>
    /// Bytes one direction may move per turn before the loop serves its other connections (a fast sender would
    /// otherwise keep the loop on one connection); the rest continues in the loop's next turn.
    /// </summary>
    private const int TurnBudget = 512 * 1024;
    private const int FirstReadSize = 4 * 1024;
    private const int MaxPreRead = 128 * 1024;
    private const int Client = 0;
    private const int Backend = 1;

    private readonly EpollLoop _loop;
    private readonly TcpRoute _route;
    private readonly int _client;
    private readonly int _slot;
    private readonly long _started;
    private int _backend = -1;
    private int _attempt;
    private State _state;
    private long _deadline = long.MaxValue;
    private long _lastActivity;
    private long _idleTicks;

    private readonly EndPoint? _peer;
    private EndPoint? _source;
    private EndPoint? _dialled;

    // What was read before the backend connection: the upstream PROXY header and the client's first bytes.
    private byte[]? _pre;
    private int _preLength;
    private ProxyHeader _upstream;
    private bool _hasUpstream;
    private string? _serverName;

    /// <summary>The client's FIN (or reset) was read before the backend connection: the relay starts half-closed.</summary>
    private bool _clientEnded;

    private ClusterState? _cluster;
    private ClusterProxyProtocol _protocol = ClusterProxyProtocol.None;
    private List<DestinationState>? _candidates;
    private HttpContext? _policyContext;
    private DestinationState? _destination;
    private bool _countedOnDestination;
    private IPAddress[]? _resolved;
    private int _resolvedIndex;
    private int _resolvedPort;

    private bool _clientReadable;

    // The peer half-closed or failed (EPOLLRDHUP, EPOLLHUP, EPOLLERR): read to the end, a short read is not the end.
    private bool _clientEnding;
    private bool _backendEnding;
    private bool _clientWritable;
    private bool _backendReadable;
    private bool _backendWritable;
    private Direction _up;
    private Direction _down;
    private bool _resumeNextTurn;

    private EpollConnection(EpollLoop loop, EpollRouteListener listener, TcpRoute route, int client, EndPoint? peer)
    {
        _loop = loop;
        Listener = listener;
        _route = route;
        _client = client;
        _peer = peer;
        _source = peer;
        _started = loop.Now;
        _lastActivity = loop.Now;
        _slot = loop.AddSlot(this);
    }

    private enum State
    {
        /// <summary>Accepted; the first step (header, SNI or connect) has not started.</summary>
        Starting,
        ReadingHeader,
        PeekingServerName,
        Resolving,
        Connecting,
        Relaying,
        Closed,
    }

    public EpollRouteListener Listener { get; }

    public EpollConnection? Next { get; set; }

    public EpollConnection? Previous { get; set; }

    /// <summary>Queued for the loop's next turn.</summary>
    public bool Deferred { get; set; }

    private EpollRouteTransport Transport => _loop.Transport;

    /// <summary>Takes a just accepted client socket: filters, limits, and starts its first step.</summary>
    public static void Start(EpollLoop loop, EpollRouteListener listener, int fd, EndPoint? peer)
    {
        TcpRoute route = listener.Route;
        if (!TcpConnectionSteps.TryAdmit(route, peer, loop.Transport.Logger, loop.Transport.Metrics))
        {
            Close(fd);
            return;
        }

        var connection = new EpollConnection(loop, listener, route, fd, peer);
        connection.Begin();
    }

    /// <summary>Closes the connection now (drain timeout, a failed handler): result "aborted".</summary>
    public void Abort() => Finish("aborted", reset: false);

    public void OnEvents(int side, int attempt, uint flags)
    {
        if (_state == State.Closed)
        {
            return;
        }

        bool failed = (flags & (EpollErr | EpollHup)) != 0;
        bool ending = failed || (flags & EpollRdHup) != 0;
        if (side == Client)
        {
            _clientEnding |= ending;
            _clientReadable |= (flags & (EpollIn | EpollRdHup)) != 0 || failed;
            _clientWritable |= (flags & EpollOut) != 0 || failed;
            switch (_state)
            {
                case State.ReadingHeader:
                case State.PeekingServerName:
                    ReadBeforeConnect();
                    break;
                case State.Relaying:
                    Pump();
                    break;
            }

            return;
        }

        if (attempt != (_attempt & EpollLoop.AttemptMask))
        {
            // An event of an earlier backend socket (closed after a failed connect).
            return;
        }

        _backendEnding |= ending;
        _backendReadable |= (flags & (EpollIn | EpollRdHup)) != 0 || failed;
        _backendWritable |= (flags & EpollOut) != 0 || failed;
        if (_state == State.Connecting)
        {
            // Writable without an error flag is a completed connect: SO_ERROR is only read when a flag says so.
            int error = failed ? PendingError(_backend) : 0;
            if (error != 0)
            {
                ConnectFailed(ErrorType(error), Describe(error));
            }
            else if (_backendWritable)
            {
                OnConnected();
            }
        }
        else if (_state == State.Relaying)
        {
            Pump();
        }
    }

    /// <summary>The loop's next turn for a connection that used up its budget in the previous one.</summary>
    public void Resume()
    {
        if (_state == State.Relaying)
        {
            Pump();
        }
    }

    /// <summary>A tick: the header, SNI and connect deadlines, and the idle timeout while relaying.</summary>
    public void CheckDeadline(long now)
    {
        if (_state == State.Relaying)
        {
            if (now - _lastActivity >= _idleTicks)
            {
                Finish("idle_timeout", reset: false);
            }

            return;
        }

        if (now < _deadline)
        {
            return;
        }

        switch (_state)
        {
            case State.ReadingHeader:
                TcpProxyLog.HeaderRejected(Transport.Logger, _peer, _route.RouteId, TcpConnectionSteps.HeaderTimeout(_route.Receiver!.HeaderTimeout));
                Finish("header_timeout", reset: false);
                break;
            case State.PeekingServerName:
                // No complete ClientHello within ConnectTimeout: connect without a server name.
                BeginConnect();
                break;
            case State.Resolving:
            case State.Connecting:
                ConnectFailed("timeout", $"no connection within {_route.Config.ConnectTimeout:c}");
                break;
        }
    }

    private void Begin()
    {
        _loop.Track(this);
        Transport.Metrics.Opened(_route.RouteId);
        Listener.ConnectionOpened();
        if (EpollCtl(_loop.EpollFd, EpollCtlAdd, _client, EpollIn | EpollOut | EpollRdHup | EpollEt, _loop.Token(_slot, Client, 0)) != 0)
        {
            Finish("reset", reset: true);
            return;
        }

        if (_route.Receiver is not { } receiver)
        {
            AfterUpstreamHeader();
            return;
        }

        if (!receiver.IsTrusted(_peer))
        {
            if (receiver.UntrustedPeers == UntrustedPeerBehavior.Passthrough)
            {
                AfterUpstreamHeader();
                return;
            }

            TcpProxyLog.HeaderRejected(Transport.Logger, _peer, _route.RouteId, TcpConnectionSteps.UntrustedPeer);
            Finish("untrusted_peer", reset: false);
            return;
        }

        _state = State.ReadingHeader;
        _deadline = _loop.Now + Ticks(receiver.HeaderTimeout);
        // The header usually arrives with the connection: read at once rather than after an event.
        _clientReadable = true;
        ReadBeforeConnect();
    }

    /// <summary>Reads the client's first bytes while the header or the ClientHello is incomplete.</summary>
    private unsafe void ReadBeforeConnect()
    {
        bool ended = false;
        bool reset = false;
        while (_clientReadable)
        {
            if (_pre is null || _preLength == _pre.Length)
            {
                if (_pre is not null && _pre.Length >= MaxPreRead)
                {
                    break;
                }

                byte[] larger = ArrayPool<byte>.Shared.Rent(_pre is null ? FirstReadSize : _pre.Length * 2);
                if (_pre is not null)
                {
                    _pre.AsSpan(0, _preLength).CopyTo(larger);
                    ArrayPool<byte>.Shared.Return(_pre);
                }

                _pre = larger;
                if (_hasUpstream)
                {
                    // The accepted header pointed into the array just returned: decode it again from its copy.
                    _route.Receiver!.Evaluate(new ReadOnlySequence<byte>(_pre, 0, _preLength), false, out _upstream, out _);
                }
            }

            int space = _pre.Length - _preLength;
            nint received;
            fixed (byte* buffer = &_pre[_preLength])
            {
                received = Recv(_client, buffer, (nuint)space, 0);
            }

            if (received < 0)
            {
                int errno = Errno;
                if (errno == EAgain)
                {
                    _clientReadable = false;
                    break;
                }

                if (errno == EIntr)
                {
                    continue;
                }

                // Reset before the header or ClientHello was complete: the client is gone.
                ended = true;
                reset = true;
                _clientReadable = false;
                break;
            }

            if (received == 0)
            {
                ended = true;
                _clientReadable = false;
                break;
            }

            _preLength += (int)received;
            if (received < space && !_clientEnding)
            {
                _clientReadable = false;
            }
        }

        _clientEnded |= ended;
        if (reset && _state == State.PeekingServerName)
        {
            // Nobody to relay for: no backend is dialled (as on the socket transport).
            Finish("reset", reset: true);
        }
        else if (_state == State.ReadingHeader)
        {
            EvaluateUpstreamHeader(ended);
        }
        else if (_state == State.PeekingServerName)
        {
            PeekServerName(ended);
        }
    }

    private void EvaluateUpstreamHeader(bool ended)
    {
        ProxyProtocolReceiver receiver = _route.Receiver!;
        var buffer = new ReadOnlySequence<byte>(_pre ?? [], 0, _preLength);
        switch (receiver.Evaluate(buffer, ended, out ProxyHeader header, out ProxyParseError error))
        {
            case ProxyReceiveStatus.Accepted:
                _upstream = header;
                _hasUpstream = true;
                AfterUpstreamHeader();
                break;
            case ProxyReceiveStatus.NoHeader:
                AfterUpstreamHeader();
                break;
            case ProxyReceiveStatus.Rejected:
                TcpProxyLog.HeaderRejected(Transport.Logger, _peer, _route.RouteId, TcpConnectionSteps.Rejection(error));
                Finish("header_rejected", reset: false);
                break;
            default:
                // NeedMoreData: wait for more bytes (a close before the header is complete comes back as Rejected).
                break;
        }
    }

    private void AfterUpstreamHeader()
    {
        _deadline = long.MaxValue;
        if (_route.Receiver is not null)
        {
            if (_hasUpstream && _upstream.HasIPEndPoints)
            {
                _source = _upstream.GetSourceEndPoint();
                _dialled = _upstream.GetDestinationEndPoint();
            }

            if (!TcpConnectionSteps.IsAllowedAfterHeader(_route, _source, Transport.Logger))
            {
                Finish("client_not_allowed", reset: false);
                return;
            }
        }

        if (!Transport.Clusters.TryGetCluster(_route.Config.ClusterId, out ClusterState? cluster))
        {
            TcpProxyLog.NoDestination(Transport.Logger, _route.RouteId, _route.Config.ClusterId, _source);
            Finish("no_cluster", reset: false);
            return;
        }

        _cluster = cluster;
        _protocol = TcpConnectionSteps.ProtocolOf(cluster);
        if (TcpConnectionSteps.WaitsForServerName(_protocol, _hasUpstream, _upstream))
        {
            // The authority from the client's TLS ClientHello (SNI): wait for it up to ConnectTimeout.
            _state = State.PeekingServerName;
            _deadline = _loop.Now + Ticks(_route.Config.ConnectTimeout);
            _clientReadable = true;
            ReadBeforeConnect();
            return;
        }

        BeginConnect();
    }

    private void PeekServerName(bool ended)
    {
        int skip = _hasUpstream ? _upstream.Length : 0;
        var buffer = new ReadOnlySequence<byte>(_pre ?? [], 0, _preLength);
        ClientHelloStatus status = TlsClientHello.TryReadServerName(buffer.Slice(skip), out string? serverName);
        if (status == ClientHelloStatus.NeedMoreData && !ended && _preLength < MaxPreRead)
        {
            return;
        }

        _serverName = serverName;
        BeginConnect();
    }

    private void BeginConnect()
    {
        _candidates = DestinationConnector.Candidates(_cluster!);
        NextDestination();
    }

    private void NextDestination()
    {
        while (true)
        {
            _destination = Transport.Connector.PickNext(_cluster!, _candidates!, ref _policyContext);
            if (_destination is null)
            {
                TcpProxyLog.NoDestination(Transport.Logger, _route.RouteId, _route.Config.ClusterId, _source);
                Finish("no_destination", reset: false);
                return;
            }

            EndPoint endPoint;
            try
            {
                endPoint = DestinationConnector.EndPointOf(_destination);
            }
            catch (FormatException e)
            {
                Transport.Connector.ReportFailure(_route.RouteId, _cluster!, _destination, "bad_address", e.Message);
                continue;
            }

            _deadline = _loop.Now + Ticks(_route.Config.ConnectTimeout);
            if (endPoint is IPEndPoint ip)
            {
                ConnectTo(ip);
            }
            else
            {
                Resolve((DnsEndPoint)endPoint);
            }

            return;
        }
    }

    /// <summary>A DNS destination: resolved on the thread pool, the addresses tried in order on the loop.</summary>
    private void Resolve(DnsEndPoint endPoint)
    {
        _state = State.Resolving;
        int attempt = ++_attempt;
        _ = ResolveAsync(endPoint, attempt);
    }

    private async Task ResolveAsync(DnsEndPoint endPoint, int attempt)
    {
        IPAddress[]? addresses = null;
        string errorType = nameof(SocketError.HostNotFound);
        string? error = null;
        try
        {
            addresses = await Dns.GetHostAddressesAsync(endPoint.Host).ConfigureAwait(false);
        }
        catch (SocketException e)
        {
            error = e.Message;
        }
        catch (ArgumentException e)
        {
            // Not a name DNS can look up (e.g. longer than 255 characters): as the socket transport reports it.
            errorType = "bad_address";
            error = e.Message;
        }

        _loop.Post(() =>
        {
            if (_state != State.Resolving || _attempt != attempt)
            {
                return;
            }

            if (addresses is not { Length: > 0 })
            {
                ConnectFailed(errorType, error ?? $"'{endPoint.Host}' has no address");
                return;
            }

            _resolved = addresses;
            _resolvedIndex = 0;
            _resolvedPort = endPoint.Port;
            ConnectTo(new IPEndPoint(addresses[0], endPoint.Port));
        });
    }

    private unsafe void ConnectTo(IPEndPoint endPoint)
    {
        _attempt++;
        _backendReadable = false;
        _backendWritable = false;
        int family = endPoint.AddressFamily == AddressFamily.InterNetwork ? AfInet : AfInet6;
        int fd = LinuxNative.Socket(family, SockStream | SockNonBlock | SockCloExec, 0);
        if (fd < 0)
        {
            int errno = Errno;
            ConnectFailed(ErrorType(errno), Describe(errno));
            return;
        }

        _backend = fd;
        SetInt(fd, IpProtoTcp, TcpNoDelay, 1);
        byte* address = stackalloc byte[SockAddrSize];
        uint length = WriteSockAddr(endPoint, address);
        int result = LinuxNative.Connect(fd, address, length);
        int error = result == 0 ? 0 : Errno;
        if (result != 0 && error != EInProgress)
        {
            ConnectFailed(ErrorType(error), Describe(error));
            return;
        }

        _state = State.Connecting;
        if (EpollCtl(_loop.EpollFd, EpollCtlAdd, fd, EpollIn | EpollOut | EpollRdHup | EpollEt, _loop.Token(_slot, Backend, _attempt)) != 0)
        {
            int errno = Errno;
            ConnectFailed(ErrorType(errno), Describe(errno));
        }
    }

    private void ConnectFailed(string errorType, string reason)
    {
        if (_backend >= 0)
        {
            Close(_backend);
            _backend = -1;
        }

        if (_resolved is { } addresses && ++_resolvedIndex < addresses.Length && errorType != "timeout")
        {
            // The next address of the same DNS destination.
            ConnectTo(new IPEndPoint(addresses[_resolvedIndex], _resolvedPort));
            return;
        }

        _resolved = null;
        Transport.Connector.ReportFailure(_route.RouteId, _cluster!, _destination!, errorType, reason);
        NextDestination();
    }

    private void OnConnected()
    {
        _state = State.Relaying;
        _deadline = long.MaxValue;
        _resolved = null;
        _idleTicks = Ticks(_route.Config.IdleTimeout);
        _lastActivity = _loop.Now;
        TcpConnectionSteps.AdjustConcurrency(_destination!, +1);
        _countedOnDestination = true;

        // The PROXY header, then what the client sent after its own header, go first: before any relayed byte.
        int skip = _hasUpstream ? _upstream.Length : 0;
        int held = _pre is null ? 0 : _preLength - skip;
        byte[]? header = null;
        int headerLength = 0;
        if (_protocol.Version is not null)
        {
            _dialled ??= Listener.LocalEndPointOf(_client);
            // An id (a string and a process-wide increment) only for a cluster that sends it.
            string uniqueId = ProxyHeaderBuilder.WritesUniqueId(_protocol) ? EpollRouteListener.NextConnectionId() : string.Empty;
            headerLength = ProxyHeaderBuilder.Build(_protocol, _source, _dialled, _upstream, _hasUpstream, _serverName, uniqueId, out header);
        }

        if (headerLength + held > 0)
        {
            byte[] first = ArrayPool<byte>.Shared.Rent(Math.Max(RelayBufferSize, headerLength + held));
            header?.AsSpan(0, headerLength).CopyTo(first);
            _pre?.AsSpan(skip, held).CopyTo(first.AsSpan(headerLength));
            _up.Buffer = first;
            _up.Start = 0;
            _up.End = headerLength + held;
            // Only the client's bytes count as relayed.
            _up.Uncounted = headerLength;
        }

        if (header is not null)
        {
            ArrayPool<byte>.Shared.Return(header);
        }

        ReleasePre();
        _up.SourceEnded = _clientEnded;
        Pump();
    }

    private void Finish(string outcome, bool reset)
    {
        if (_state == State.Closed)
        {
            return;
        }

        bool relayed = _state == State.Relaying;
        _state = State.Closed;
        _loop.Untrack(this);
        _loop.RemoveSlot(_slot);
        if (reset)
        {
            CloseWithReset(_client);
            if (_backend >= 0)
            {
                CloseWithReset(_backend);
            }
        }
        else
        {
            Close(_client);
            if (_backend >= 0)
            {
                Close(_backend);
            }
        }

        _backend = -1;
        ReleasePre();
        Release(ref _up, _loop);
        Release(ref _down, _loop);
        if (_countedOnDestination)
        {
            TcpConnectionSteps.AdjustConcurrency(_destination!, -1);
        }

        if (relayed)
        {
            TcpProxyLog.ConnectionRelayed(Transport.Logger, _route.RouteId, _source, _destination!.DestinationId, _up.Bytes, _down.Bytes, outcome);
        }

        _route.Exit();
        TimeSpan duration = Transport.TimeProvider.GetElapsedTime(_started);
        Transport.Metrics.Closed(_route.RouteId, outcome, duration, _up.Bytes, _down.Bytes);
        Listener.ConnectionClosed();
    }

    private void ReleasePre()
    {
        if (_pre is not null)
        {
            _upstream = default;
            ArrayPool<byte>.Shared.Return(_pre);
            _pre = null;
            _preLength = 0;
        }
    }

    private static void Release(ref Direction direction, EpollLoop loop)
    {
        if (direction.Buffer is not null)
        {
            ArrayPool<byte>.Shared.Return(direction.Buffer);
            direction.Buffer = null;
        }

        if (direction.Pipe is not null)
        {
            loop.ReturnPipe(direction.Pipe);
            direction.Pipe = null;
        }
    }

    private long Ticks(TimeSpan span) => _loop.Ticks(span);
}
