using System.Runtime.Versioning;
using static ProxyKestrel.Gateway.Transports.Epoll.LinuxNative;

namespace ProxyKestrel.Gateway.Transports.Epoll;

/// <summary>
/// One loop's registration of a listener's socket. Every loop registers the same listening socket with
/// <c>EPOLLEXCLUSIVE</c>, so the kernel wakes one waiting loop per new connection: an idle loop takes it, a busy one
/// is left alone, which keeps the loops' queues even. A wake-up accepts a few connections only, so that the next
/// ones wake another loop. When the process runs out of descriptors the loop stops listening until the next tick
/// instead of spinning on a socket it cannot accept from.
/// </summary>
[SupportedOSPlatform("linux")]
internal sealed unsafe class EpollAcceptor
{
    private const int AcceptBatch = 4;
    private const uint Interest = EpollIn | EpollExclusive;
    private readonly EpollLoop _loop;
    private int _slot = -1;
    private bool _registered;

    public EpollAcceptor(EpollLoop loop, EpollRouteListener listener, int fd)
    {
        _loop = loop;
        Listener = listener;
        Fd = fd;
    }

    public EpollLoop Loop => _loop;

    public EpollRouteListener Listener { get; }

    /// <summary>The listener's socket (shared with the other loops); -1 once unregistered.</summary>
    public int Fd { get; private set; }

    public bool Paused { get; private set; }

    /// <summary>Starts accepting (on the loop's thread).</summary>
    public void Register()
    {
        _slot = _loop.AddSlot(this);
        if (EpollCtl(_loop.EpollFd, EpollCtlAdd, Fd, Interest, _loop.Token(_slot, 0, 0)) != 0)
        {
            int errno = Errno;
            _loop.RemoveSlot(_slot);
            _slot = -1;
            throw new IOException($"epoll_ctl on a listening socket failed: {Describe(errno)}");
        }

        _registered = true;
        _loop.Acceptors.Add(this);
    }

    /// <summary>Stops accepting on this loop (on its thread); the listener closes the socket once every loop has.</summary>
    public void Unregister()
    {
        if (Fd < 0)
        {
            return;
        }

        if (_registered)
        {
            EpollCtl(_loop.EpollFd, EpollCtlDel, Fd, 0, 0);
            _registered = false;
        }

        if (_slot >= 0)
        {
            _loop.RemoveSlot(_slot);
            _slot = -1;
        }

        _loop.Acceptors.Remove(this);
        Fd = -1;
    }

    public void OnReadable()
    {
        byte* address = stackalloc byte[SockAddrSize];
        for (int i = 0; i < AcceptBatch && Fd >= 0; i++)
        {
            uint length = SockAddrSize;
            int client = Accept4(Fd, address, &length, SockNonBlock | SockCloExec);
            if (client < 0)
            {
                int errno = Errno;
                if (errno is EMFile or ENFile)
                {
                    string reason = Describe(errno);
                    EpollLog.AcceptPaused(_loop.Transport.Logger, Listener.EndPoint, reason);
                    Pause();
                }

                // EAGAIN: nothing left (or another loop took it); ECONNABORTED and the like: that client is gone.
                return;
            }

            EpollConnection.Start(_loop, Listener, client, ReadSockAddr(address));
        }
    }

    /// <summary>Listens again after a pause for lack of descriptors (called on a tick).</summary>
    public void Resume()
    {
        if (Paused && Fd >= 0 && EpollCtl(_loop.EpollFd, EpollCtlAdd, Fd, Interest, _loop.Token(_slot, 0, 0)) == 0)
        {
            Paused = false;
            _registered = true;
        }
    }

    /// <summary>EPOLLEXCLUSIVE registrations cannot be modified, only removed and added again.</summary>
    private void Pause()
    {
        if (EpollCtl(_loop.EpollFd, EpollCtlDel, Fd, 0, 0) == 0)
        {
            Paused = true;
            _registered = false;
        }
    }
}
