using System.Net;
using System.Net.Sockets;
using ProxyKestrel.Gateway.Lifecycle;
using static ProxyKestrel.Gateway.Transports.Epoll.LinuxNative;

namespace ProxyKestrel.Gateway.Transports.Epoll;

/// <summary>The backend side of an <see cref="EpollConnection"/> before the relay: a name lookup, a non-blocking connect.</summary>
internal sealed partial class EpollConnection
{
    public ValueTask<ConnectResult> ResolveAsync(string host, long deadline)
    {
        if (_killed)
        {
            return new ValueTask<ConnectResult>(ConnectResult.Killed);
        }

        ValueTask<ConnectResult> pending = (_connect ??= _loop.ConnectOperations.Rent()).Start();
        _state = State.Resolving;
        _deadline = deadline;
        _ = ResolveOnThreadPoolAsync(host, ++_attempt);
        return pending;
    }

    public unsafe ValueTask<ConnectResult> ConnectAsync(IPEndPoint endPoint, long deadline)
    {
        if (_killed)
        {
            return new ValueTask<ConnectResult>(ConnectResult.Killed);
        }

        CloseBackend();
        _attempt++;
        _backendReadable = false;
        _backendWritable = false;
        _backendEnding = false;
        int family = endPoint.AddressFamily == AddressFamily.InterNetwork ? AfInet : AfInet6;
        int fd = LinuxNative.Socket(family, SockStream | SockNonBlock | SockCloExec, 0);
        if (fd < 0)
        {
            int errno = Errno;
            return new ValueTask<ConnectResult>(ConnectResult.Failed(ErrorType(errno), Describe(errno)));
        }

        _backend = fd;
        SetInt(fd, IpProtoTcp, TcpNoDelay, 1);
        byte* address = stackalloc byte[SockAddrSize];
        uint length = WriteSockAddr(endPoint, address);
        int result = LinuxNative.Connect(fd, address, length);
        int error = result == 0 ? 0 : Errno;
        if ((result != 0 && error != EInProgress)
            || EpollCtl(_loop.EpollFd, EpollCtlAdd, fd, EpollIn | EpollOut | EpollRdHup | EpollEt, _loop.Token(_slot, Backend, _attempt)) != 0)
        {
            error = error != 0 && error != EInProgress ? error : Errno;
            CloseBackend();
            return new ValueTask<ConnectResult>(ConnectResult.Failed(ErrorType(error), Describe(error)));
        }

        // Completed by the socket's first event (writable, or an error).
        _state = State.Connecting;
        _deadline = deadline;
        return (_connect ??= _loop.ConnectOperations.Rent()).Start();
    }

    /// <summary>A DNS destination: resolved on the thread pool, the result handed back to the loop.</summary>
    private async Task ResolveOnThreadPoolAsync(string host, int attempt)
    {
        // The deadline is the loop's (on its tick): the lookup itself is not cancelled, a late answer is dropped.
        ConnectResult result = await DnsLookup.ResolveAsync(host, CancellationToken.None).ConfigureAwait(false);

        _loop.Post(() =>
        {
            if (_state == State.Resolving && _attempt == attempt)
            {
                _state = State.Idle;
                _deadline = long.MaxValue;
                _connect!.Complete(result);
            }
        });
    }

    private void CloseBackend()
    {
        if (_backend >= 0)
        {
            LinuxNative.Close(_backend);
            _backend = -1;
        }
    }
}
