using System.Runtime.InteropServices;
using System.Runtime.Versioning;

namespace ProxyKestrel.Gateway.Transports.Epoll;

/// <summary>The datagram calls (<c>recvmmsg</c>, <c>sendmmsg</c>) and their structures, for the UDP routes' epoll loops.</summary>
internal static unsafe partial class LinuxNative
{
    public const int SockDgram = 2;
    public const int SoReusePort = 15;
    public const int MsgTrunc = 0x20;
    public const int MsgDontWait = 0x40;
    public const int EConnRefused = 111;

    [LibraryImport("libc", EntryPoint = "recvmmsg", SetLastError = true)]
    [SupportedOSPlatform("linux")]
    public static partial int RecvMMsg(int fd, MMsgHdr* messages, uint count, int flags, void* timeout);

    [LibraryImport("libc", EntryPoint = "sendmmsg", SetLastError = true)]
    [SupportedOSPlatform("linux")]
    public static partial int SendMMsg(int fd, MMsgHdr* messages, uint count, int flags);

    /// <summary><c>struct iovec</c>.</summary>
    [StructLayout(LayoutKind.Sequential)]
    public struct IoVec
    {
        public byte* Base;
        public nuint Length;
    }

    /// <summary><c>struct msghdr</c> (LP64: 56 bytes).</summary>
    [StructLayout(LayoutKind.Sequential)]
    public struct MsgHdr
    {
        public byte* Name;
        public uint NameLength;
        public IoVec* Iov;
        public nuint IovLength;
        public byte* Control;
        public nuint ControlLength;
        public int Flags;
    }

    /// <summary><c>struct mmsghdr</c>: a message and the bytes it carried.</summary>
    [StructLayout(LayoutKind.Sequential)]
    public struct MMsgHdr
    {
        public MsgHdr Header;
        public uint Length;
    }
}
