using System.Runtime.Versioning;
using static ProxyKestrel.Gateway.Transports.Epoll.LinuxNative;

namespace ProxyKestrel.Gateway.Transports.Epoll;

/// <summary>
/// A kernel pipe through which one direction of a bulk connection moves with splice(2): socket to pipe to socket,
/// the bytes never copied into the process. <see cref="Bytes"/> is what sits in the pipe, not yet sent on.
/// </summary>
[SupportedOSPlatform("linux")]
internal sealed class SplicePipe
{
    private SplicePipe(int read, int write, int capacity)
    {
        ReadFd = read;
        WriteFd = write;
        Capacity = capacity;
    }

    public int ReadFd { get; }

    public int WriteFd { get; }

    /// <summary>The most one splice into the pipe asks for.</summary>
    public int Capacity { get; }

    public int Bytes { get; set; }

    /// <summary>A non-blocking pipe of <paramref name="size"/> bytes (the system's default size if it refuses); null if none can be made.</summary>
    public static unsafe SplicePipe? Create(int size)
    {
        int* fds = stackalloc int[2];
        if (Pipe2(fds, SockNonBlock | SockCloExec) != 0)
        {
            return null;
        }

        int capacity = Fcntl(fds[1], FSetPipeSize, size);
        return new SplicePipe(fds[0], fds[1], capacity > 0 ? capacity : 64 * 1024);
    }

    public void Close()
    {
        LinuxNative.Close(ReadFd);
        LinuxNative.Close(WriteFd);
    }
}
