using System.Net.Sockets;
using ProxyKestrel.Gateway.Lifecycle;
using ProxyKestrel.Gateway.Transports.Streams;
using static ProxyKestrel.Gateway.Transports.Epoll.LinuxNative;

namespace ProxyKestrel.Gateway.Transports.Epoll;

/// <summary>
/// An <see cref="EpollConnection"/> handed over as streams (the mail front): its client socket leaves the loop's epoll
/// set and becomes a <see cref="Socket"/>, which runs on .NET's own socket engine. The connection stays tracked by its
/// loop, so a drain that times out still kills it, and its close is posted back to the loop.
/// </summary>
internal sealed partial class EpollConnection
{
    private Socket? _detached;
    private Action? _killDetached;

    public IStreamConnectionIo DetachToStreams()
    {
        if (_state != State.Idle || _backend >= 0)
        {
            throw new InvalidOperationException("Only a connection without a pending operation or a backend can be detached.");
        }

        System.Net.EndPoint? local = LocalEndPoint;
        if (_clientRegistered && !_clientRegistrationFailed)
        {
            EpollCtl(_loop.EpollFd, EpollCtlDel, _client, 0, 0);
        }

        var socket = new Socket(new SafeSocketHandle(_client, ownsHandle: true));
        _detached = socket;
        var kill = new CancellationTokenSource();
        _killDetached = () => Cancel(kill);
        _state = State.Detached;
        var client = new DetachedClient(
            new NetworkStream(socket, ownsSocket: false),
            () =>
            {
                ShutdownSend(socket);
                return default;
            },
            mode => CloseDetached(mode, kill),
            Ended);
        var io = new StreamConnectionIo(client, _pre.AsSpan(0, _preLength), _peer, local, ConnectionId, _loop.Transport.TimeProvider, kill.Token);
        ReleasePre();
        return io;
    }

    /// <summary>The detached connection's close (from any thread): the socket now, the loop's bookkeeping on the loop.</summary>
    private void CloseDetached(CloseMode mode, CancellationTokenSource kill)
    {
        Socket socket = _detached!;
        if (mode == CloseMode.Reset)
        {
            try
            {
                socket.LingerState = new LingerOption(true, 0);
            }
            catch (Exception e) when (e is SocketException or ObjectDisposedException)
            {
                // Already closed.
            }
        }

        socket.Dispose();
        _loop.Post(() =>
        {
            if (_state == State.Closed)
            {
                return;
            }

            _state = State.Closed;
            _loop.Untrack(this);
            _loop.RemoveSlot(_slot);
            ReturnOperations();
            kill.Dispose();
        });
    }

    /// <summary>The kill of a detached connection: its stream operations end "killed".</summary>
    private void KillDetached() => _killDetached?.Invoke();

    private static void Cancel(CancellationTokenSource kill)
    {
        try
        {
            kill.Cancel();
        }
        catch (ObjectDisposedException)
        {
            // Closed already.
        }
    }

    private static void ShutdownSend(Socket socket)
    {
        try
        {
            socket.Shutdown(SocketShutdown.Send);
        }
        catch (Exception e) when (e is SocketException or ObjectDisposedException)
        {
            // Already reset or closed.
        }
    }
}
