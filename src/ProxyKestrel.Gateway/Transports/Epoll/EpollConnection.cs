using System.Buffers;
using System.Net;
using System.Net.Sockets;
using System.Runtime.Versioning;
using ProxyKestrel.Gateway.Lifecycle;
using static ProxyKestrel.Gateway.Transports.Epoll.LinuxNative;

namespace ProxyKestrel.Gateway.Transports.Epoll;

/// <summary>
/// The epoll transport's I/O for one client connection, driven by its loop's edge-triggered events: the operations of
/// <see cref="ITcpConnectionIo"/> (the client's first bytes, the backend's name lookup and connect, the relay), each
/// completed on the loop's thread, where <see cref="TcpConnectionLifecycle"/> then goes on inline. The client's first
/// bytes (EpollConnection.Client.cs), the backend's lookup and connect (EpollConnection.Backend.cs) and the relay
/// (EpollConnection.Relay.cs), which moves bytes without the lifecycle until it ends, are in their own files.
/// </summary>
[SupportedOSPlatform("linux")]
internal sealed partial class EpollConnection : ITcpConnectionIo
{
    private const int RelayBufferSize = 64 * 1024;

    /// <summary>
    /// Bytes one direction may move per turn before the loop serves its other connections (a fast sender would
    /// otherwise keep the loop on one connection); the rest continues in the loop's next turn.
    /// </summary>
    private const int TurnBudget = 512 * 1024;
    private const int FirstReadSize = 4 * 1024;
    private const int MaxPreRead = TcpConnectionLifecycle.MaxInspectBytes;
    private const int Client = 0;
    private const int Backend = 1;

    private readonly EpollLoop _loop;
    private readonly int _client;
    private readonly int _slot;
    private readonly EndPoint? _peer;
    private int _backend = -1;
    private int _attempt;
    private State _state;
    private long _deadline = long.MaxValue;
    private bool _killed;
    private EndPoint? _localEndPoint;
    private string? _connectionId;

    // What was read before the backend connection: the upstream PROXY header and the client's first bytes.
    private byte[]? _pre;
    private int _preLength;

    /// <summary>The client's FIN (or reset) was read before the backend connection: the relay starts half-closed.</summary>
    private bool _clientEnded;
    private bool _clientRegistered;
    private bool _clientRegistrationFailed;

    private bool _clientReadable;

    // The peer half-closed or failed (EPOLLRDHUP, EPOLLHUP, EPOLLERR): read to the end, a short read is not the end.
    private bool _clientEnding;
    private bool _backendEnding;
    private bool _clientWritable;
    private bool _backendReadable;
    private bool _backendWritable;

    // Created when first needed (a route without an upstream header never receives before the relay).
    private LoopOperation<ReceiveStatus>? _receive;
    private LoopOperation<ConnectResult>? _connect;

    private EpollConnection(EpollLoop loop, EpollRouteListener listener, int client, EndPoint? peer)
    {
        _loop = loop;
        Listener = listener;
        _client = client;
        _peer = peer;
        _slot = loop.AddSlot(this);
        loop.Track(this);
        listener.ConnectionOpened();
    }

    private enum State
    {
        /// <summary>No operation is pending (the lifecycle is running, or the relay has ended).</summary>
        Idle,
        Receiving,
        Resolving,
        Connecting,
        Relaying,

        /// <summary>Handed over as streams (EpollConnection.Detach.cs): the loop only tracks it.</summary>
        Detached,
        Closed,
    }

    public EpollRouteListener Listener { get; }

    public EpollConnection? Next { get; set; }

    public EpollConnection? Previous { get; set; }

    /// <summary>Queued for the loop's next turn.</summary>
    public bool Deferred { get; set; }

    public EndPoint? RemoteEndPoint => _peer;

    /// <summary>The bound address, or the socket's own for a wildcard listener (read once, when a header needs it).</summary>
    public EndPoint? LocalEndPoint => _localEndPoint ??= Listener.LocalEndPointOf(_client);

    public string ConnectionId => _connectionId ??= EpollRouteListener.NextConnectionId();

    public ReadOnlySequence<byte> Received => _pre is null ? default : new ReadOnlySequence<byte>(_pre, 0, _preLength);

    /// <summary>Takes a just accepted client socket and runs its lifecycle (on the loop's thread).</summary>
    public static void Start(EpollLoop loop, EpollRouteListener listener, int fd, EndPoint? peer)
    {
        var connection = new EpollConnection(loop, listener, fd, peer);
        loop.Transport.Lifecycle.Run(connection, listener.Routes);
    }

    /// <summary>Kills the connection now (drain timeout, a failed handler): its pending operation ends "killed".</summary>
    public void Abort()
    {
        _killed = true;
        switch (_state)
        {
            case State.Receiving:
                _state = State.Idle;
                _receive!.Complete(ReceiveStatus.Killed);
                break;
            case State.Resolving:
            case State.Connecting:
                CloseBackend();
                _state = State.Idle;
                _connect!.Complete(ConnectResult.Killed);
                break;
            case State.Relaying:
                EndRelay(RelayEnd.Killed);
                break;
            case State.Detached:
                KillDetached();
                break;
        }
    }

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
            if (_state == State.Receiving)
            {
                Receive();
            }
            else if (_state == State.Relaying)
            {
                Pump();
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
                CloseBackend();
                _state = State.Idle;
                _deadline = long.MaxValue;
                _connect!.Complete(ConnectResult.Failed(ErrorType(error), Describe(error)));
            }
            else if (_backendWritable)
            {
                _state = State.Idle;
                _deadline = long.MaxValue;
                _connect!.Complete(ConnectResult.Connected);
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

    /// <summary>A tick: the deadline of a pending receive, lookup or connect, and the side timeouts while relaying.</summary>
    public void CheckDeadline(long now)
    {
        if (_state == State.Relaying)
        {
            CheckIdle(now);
            return;
        }

        if (now < _deadline)
        {
            return;
        }

        switch (_state)
        {
            case State.Receiving:
                _state = State.Idle;
                _deadline = long.MaxValue;
                _receive!.Complete(ReceiveStatus.TimedOut);
                break;
            case State.Resolving:
            case State.Connecting:
                CloseBackend();
                _state = State.Idle;
                _deadline = long.MaxValue;
                _connect!.Complete(ConnectResult.TimedOut);
                break;
        }
    }

    public void Close(CloseMode mode)
    {
        if (_state == State.Closed)
        {
            return;
        }

        if (_state == State.Detached)
        {
            // The stream I/O closes a detached connection (EpollConnection.Detach.cs).
            throw new InvalidOperationException("A detached connection is closed by its stream I/O.");
        }

        _state = State.Closed;
        _loop.Untrack(this);
        _loop.RemoveSlot(_slot);
        if (mode == CloseMode.Reset)
        {
            CloseWithReset(_client);
            if (_backend >= 0)
            {
                CloseWithReset(_backend);
            }
        }
        else
        {
            LinuxNative.Close(_client);
            if (_backend >= 0)
            {
                LinuxNative.Close(_backend);
            }
        }

        _backend = -1;
        ReleasePre();
        ReturnOperations();
        Release(ref _up, _loop);
        Release(ref _down, _loop);
    }

    public void Ended() => Listener.ConnectionClosed();

    /// <summary>Gives the operations back to the loop (their results were read: the lifecycle waits on none).</summary>
    private void ReturnOperations()
    {
        if (_receive is { } receive)
        {
            _receive = null;
            _loop.ReceiveOperations.Return(receive);
        }

        if (_connect is { } connect)
        {
            _connect = null;
            _loop.ConnectOperations.Return(connect);
        }
    }

    private void ReleasePre()
    {
        if (_pre is not null)
        {
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
