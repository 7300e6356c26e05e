using System.Net;
using System.Net.Sockets;
using System.Runtime.InteropServices;
using System.Runtime.Versioning;

namespace ProxyKestrel.Gateway.Transports.Epoll;

/// <summary>The libc calls, constants and <c>sockaddr</c> layouts of the epoll transport (Linux, glibc or musl).</summary>
[SupportedOSPlatform("linux")]
internal static unsafe partial class LinuxNative
{
    public const int AfInet = 2;
    public const int AfInet6 = 10;
    public const int SockStream = 1;
    public const int SockNonBlock = 0x800;
    public const int SockCloExec = 0x80000;
    public const int SolSocket = 1;
    public const int SoReuseAddr = 2;
    public const int SoError = 4;
    public const int SoLinger = 13;
    public const int IpProtoTcp = 6;
    public const int TcpNoDelay = 1;
    public const int IpProtoIPv6 = 41;
    public const int IPv6V6Only = 26;
    public const int MsgNoSignal = 0x4000;
    public const int ShutWr = 1;

    public const int EpollCtlAdd = 1;
    public const int EpollCtlDel = 2;
    public const uint EpollIn = 0x001;
    public const uint EpollOut = 0x004;
    public const uint EpollErr = 0x008;
    public const uint EpollHup = 0x010;
    public const uint EpollRdHup = 0x2000;
    public const uint EpollEt = 0x80000000;
    public const uint EpollExclusive = 1u << 28;

    public const int FSetPipeSize = 1031;
    public const uint SpliceMove = 1;
    public const uint SpliceNonBlock = 2;

    public const int EIntr = 4;
    public const int EAgain = 11;
    public const int EMFile = 24;
    public const int ENFile = 23;
    public const int EAddrInUse = 98;
    public const int EInProgress = 115;

    /// <summary>The size of <c>sockaddr_in6</c>, which also holds a <c>sockaddr_in</c>.</summary>
    public const int SockAddrSize = 28;

    /// <summary><c>struct epoll_event</c> is packed (12 bytes) on x86-64 and naturally aligned (16 bytes) elsewhere.</summary>
    public static readonly int EpollEventSize = RuntimeInformation.ProcessArchitecture == Architecture.X64 ? 12 : 16;

    private static readonly int EpollDataOffset = RuntimeInformation.ProcessArchitecture == Architecture.X64 ? 4 : 8;

    [LibraryImport("libc", EntryPoint = "socket", SetLastError = true)]
    public static partial int Socket(int domain, int type, int protocol);

    [LibraryImport("libc", EntryPoint = "setsockopt", SetLastError = true)]
    public static partial int SetSockOpt(int fd, int level, int name, void* value, uint length);

    [LibraryImport("libc", EntryPoint = "getsockopt", SetLastError = true)]
    public static partial int GetSockOpt(int fd, int level, int name, void* value, uint* length);

    [LibraryImport("libc", EntryPoint = "bind", SetLastError = true)]
    public static partial int Bind(int fd, byte* address, uint length);

    [LibraryImport("libc", EntryPoint = "listen", SetLastError = true)]
    public static partial int Listen(int fd, int backlog);

    [LibraryImport("libc", EntryPoint = "accept4", SetLastError = true)]
    public static partial int Accept4(int fd, byte* address, uint* length, int flags);

    [LibraryImport("libc", EntryPoint = "connect", SetLastError = true)]
    public static partial int Connect(int fd, byte* address, uint length);

    [LibraryImport("libc", EntryPoint = "getsockname", SetLastError = true)]
    public static partial int GetSockName(int fd, byte* address, uint* length);

    [LibraryImport("libc", EntryPoint = "recv", SetLastError = true)]
    public static partial nint Recv(int fd, byte* buffer, nuint length, int flags);

    [LibraryImport("libc", EntryPoint = "send", SetLastError = true)]
    public static partial nint Send(int fd, byte* buffer, nuint length, int flags);

    [LibraryImport("libc", EntryPoint = "shutdown", SetLastError = true)]
    public static partial int Shutdown(int fd, int how);

    [LibraryImport("libc", EntryPoint = "close", SetLastError = true)]
    public static partial int Close(int fd);

    [LibraryImport("libc", EntryPoint = "read", SetLastError = true)]
    public static partial nint Read(int fd, byte* buffer, nuint length);

    [LibraryImport("libc", EntryPoint = "write", SetLastError = true)]
    public static partial nint Write(int fd, byte* buffer, nuint length);

    [LibraryImport("libc", EntryPoint = "pipe2", SetLastError = true)]
    public static partial int Pipe2(int* fds, int flags);

    [LibraryImport("libc", EntryPoint = "fcntl", SetLastError = true)]
    public static partial int Fcntl(int fd, int command, int argument);

    [LibraryImport("libc", EntryPoint = "splice", SetLastError = true)]
    public static partial nint Splice(int input, long* inputOffset, int output, long* outputOffset, nuint length, uint flags);

    [LibraryImport("libc", EntryPoint = "epoll_create1", SetLastError = true)]
    public static partial int EpollCreate1(int flags);

    [LibraryImport("libc", EntryPoint = "epoll_ctl", SetLastError = true)]
    private static partial int EpollCtlNative(int epfd, int op, int fd, byte* ev);

    [LibraryImport("libc", EntryPoint = "epoll_wait", SetLastError = true)]
    public static partial int EpollWait(int epfd, byte* events, int maxEvents, int timeout);

    [LibraryImport("libc", EntryPoint = "eventfd", SetLastError = true)]
    public static partial int EventFd(uint initial, int flags);

    public static int Errno => Marshal.GetLastPInvokeError();

    /// <summary><c>epoll_ctl</c> with the architecture's <c>epoll_event</c> layout.</summary>
    public static int EpollCtl(int epfd, int op, int fd, uint events, ulong data)
    {
        byte* ev = stackalloc byte[16];
        *(uint*)ev = events;
        *(ulong*)(ev + EpollDataOffset) = data;
        return EpollCtlNative(epfd, op, fd, ev);
    }

    /// <summary>Reads entry <paramref name="index"/> of an <c>epoll_wait</c> result.</summary>
    public static void ReadEvent(byte* events, int index, out uint flags, out ulong data)
    {
        byte* ev = events + (index * EpollEventSize);
        flags = *(uint*)ev;
        data = *(ulong*)(ev + EpollDataOffset);
    }

    public static int SetInt(int fd, int level, int name, int value) => SetSockOpt(fd, level, name, &value, sizeof(int));

    /// <summary>Closes with an RST instead of a FIN (SO_LINGER with a zero timeout).</summary>
    public static void CloseWithReset(int fd)
    {
        long linger = 1; // struct linger { int l_onoff = 1; int l_linger = 0; }
        SetSockOpt(fd, SolSocket, SoLinger, &linger, sizeof(long));
        Close(fd);
    }

    /// <summary>The pending error of a socket (SO_ERROR), 0 when none.</summary>
    public static int PendingError(int fd)
    {
        int error = 0;
        uint length = sizeof(int);
        return GetSockOpt(fd, SolSocket, SoError, &error, &length) == 0 ? error : Errno;
    }

    /// <summary>Writes <paramref name="endPoint"/> as a <c>sockaddr_in</c> / <c>sockaddr_in6</c>; returns its length.</summary>
    public static uint WriteSockAddr(IPEndPoint endPoint, byte* address)
    {
        new Span<byte>(address, SockAddrSize).Clear();
        ushort port = (ushort)endPoint.Port;
        address[2] = (byte)(port >> 8);
        address[3] = (byte)port;
        if (endPoint.AddressFamily == AddressFamily.InterNetwork)
        {
            *(ushort*)address = AfInet;
            endPoint.Address.TryWriteBytes(new Span<byte>(address + 4, 4), out _);
            return 16;
        }

        *(ushort*)address = AfInet6;
        endPoint.Address.TryWriteBytes(new Span<byte>(address + 8, 16), out _);
        *(uint*)(address + 24) = (uint)endPoint.Address.ScopeId;
        return SockAddrSize;
    }

    /// <summary>Reads a <c>sockaddr_in</c> / <c>sockaddr_in6</c>; null for another family.</summary>
    public static IPEndPoint? ReadSockAddr(byte* address)
    {
        int port = (address[2] << 8) | address[3];
        switch (*(ushort*)address)
        {
            case AfInet:
                return new IPEndPoint(new IPAddress(new ReadOnlySpan<byte>(address + 4, 4)), port);
            case AfInet6:
                uint scope = *(uint*)(address + 24);
                return new IPEndPoint(new IPAddress(new ReadOnlySpan<byte>(address + 8, 16), scope), port);
            default:
                return null;
        }
    }

    /// <summary>The local address of a socket (getsockname).</summary>
    public static IPEndPoint? LocalEndPoint(int fd)
    {
        byte* address = stackalloc byte[SockAddrSize];
        uint length = SockAddrSize;
        return GetSockName(fd, address, &length) == 0 ? ReadSockAddr(address) : null;
    }

    /// <summary>A <see cref="SocketError"/> name for a connect errno, as the socket transport reports it in metrics.</summary>
    public static string ErrorType(int errno) => errno switch
    {
        111 => nameof(SocketError.ConnectionRefused),
        110 => nameof(SocketError.TimedOut),
        104 => nameof(SocketError.ConnectionReset),
        101 => nameof(SocketError.NetworkUnreachable),
        113 => nameof(SocketError.HostUnreachable),
        99 => nameof(SocketError.AddressNotAvailable),
        13 => nameof(SocketError.AccessDenied),
        EMFile or ENFile => nameof(SocketError.TooManyOpenSockets),
        _ => nameof(SocketError.SocketError),
    };

    /// <summary>The system's message for an errno.</summary>
    public static string Describe(int errno) => Marshal.GetPInvokeErrorMessage(errno);
}
