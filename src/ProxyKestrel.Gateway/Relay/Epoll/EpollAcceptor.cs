using System.Runtime.Versioning;
using static ProxyKestrel.Gateway.Relay.Epoll.LinuxNative;

namespace ProxyKestrel.Gateway.Relay.Epoll;

/// <summary>
/// One loop's listening socket of a listener (level-triggered): accepts in batches and starts a connection per
/// client on the same loop. When the process runs out of descriptors it stops listening until the next tick instead
/// of spinning on a socket it cannot accept from.
/// </summary>
[SupportedOSPlatform("linux")]
internal sealed unsafe class EpollAcceptor
{
    private const int AcceptBatch = 64;
    private readonly EpollLoop _loop;
    private int _slot = -1;

    public EpollLoop Loop => _loop;

    public EpollAcceptor(EpollLoop loop, EpollRouteListener listener, int fd)
    {
        _loop = loop;
        Listener = listener;
        Fd = fd;
    }

    public EpollRouteListener Listener { get; }

    public int Fd { get; private set; }

    public bool Paused { get; private set; }

    /// <summary>Starts accepting (on the loop's thread).</summary>
    public void Register()
    {
        _slot = _loop.AddSlot(this);
        if (EpollCtl(_loop.EpollFd, EpollCtlAdd, Fd, EpollIn, _loop.Token(_slot, 0, 0)) != 0)
        {
            int errno = Errno;
            _loop.RemoveSlot(_slot);
            _slot = -1;
            throw new IOException($"epoll_ctl on a listening socket failed: {Describe(errno)}");
        }

        _loop.Acceptors.Add(this);
    }

    /// <summary>Stops accepting and closes the socket (on the loop's thread); connections already accepted go on.</summary>
    public void Unregister()
    {
        if (Fd < 0)
        {
            return;
        }

        if (_slot >= 0)
        {
            _loop.RemoveSlot(_slot);
            _slot = -1;
        }

        _loop.Acceptors.Remove(this);
        Close(Fd);
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
                    EpollLog.AcceptPaused(_loop.Transport.Logger, Listener.EndPoint, Describe(errno));
                    Pause();
                }

                // EAGAIN: nothing left; ECONNABORTED and the like: that client is gone, the others wait for the next event.
                return;
            }

            EpollConnection.Start(_loop, Listener, client, ReadSockAddr(address));
        }
    }

    /// <summary>Listens again after a pause for lack of descriptors (called on a tick).</summary>
    public void Resume()
    {
        if (Paused && Fd >= 0 && EpollCtl(_loop.EpollFd, EpollCtlMod, Fd, EpollIn, _loop.Token(_slot, 0, 0)) == 0)
        {
            Paused = false;
        }
    }

    private void Pause()
    {
        if (EpollCtl(_loop.EpollFd, EpollCtlMod, Fd, 0, _loop.Token(_slot, 0, 0)) == 0)
        {
            Paused = true;
        }
    }
}
