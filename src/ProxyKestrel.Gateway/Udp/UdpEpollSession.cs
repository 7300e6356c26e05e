using System.Runtime.Versioning;

namespace ProxyKestrel.Gateway.Udp;

/// <summary>
/// A session of the epoll transport: a non-blocking socket connected to the destination, registered in the loop
/// that opened it, which reads its replies (<see cref="UdpEpollLoop.ReadReplies"/>) and closes it.
/// </summary>
[SupportedOSPlatform("linux")]
internal sealed class UdpEpollSession : UdpSession
{
    public UdpEpollSession(UdpEpollListener endpoint, UdpEpollLoop loop, int listenerFd, in UdpSessionStart start, int fd)
        : base(start)
    {
        Endpoint = endpoint;
        Loop = loop;
        ListenerFd = listenerFd;
        Fd = fd;
    }

    public UdpEpollListener Endpoint { get; }

    public UdpEpollLoop Loop { get; }

    /// <summary>The loop's socket of the endpoint, which the client sent to and its replies leave from.</summary>
    public int ListenerFd { get; }

    public int Fd { get; }

    /// <summary>The loop slot of <see cref="Fd"/>, set when it is registered.</summary>
    public int Slot { get; set; } = -1;

    public override void CloseBackend()
    {
        if (Loop.IsLoopThread)
        {
            Close();
        }
        else
        {
            Loop.Post(Close);
        }
    }

    private void Close()
    {
        if (Slot >= 0)
        {
            Loop.CloseRegistered(Fd, Slot);
            Slot = -1;
        }
        else
        {
            Transports.Epoll.LinuxNative.Close(Fd);
        }
    }
}
