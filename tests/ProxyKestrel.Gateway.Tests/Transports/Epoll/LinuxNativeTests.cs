using System.Net;
using System.Net.Sockets;
using System.Runtime.Versioning;
using ProxyKestrel.Gateway.Transports.Epoll;
using ProxyKestrel.Gateway.Tests.Infrastructure;

namespace ProxyKestrel.Gateway.Tests.Transports.Epoll;

/// <summary>
/// The <c>sockaddr</c> layouts and errno mapping of <see cref="LinuxNative"/>, checked against the layout .NET itself
/// hands to the kernel (<see cref="IPEndPoint.Serialize"/>) and against real sockets (getsockname).
/// </summary>
[SupportedOSPlatform("linux")]
public class LinuxNativeTests
{
    [LinuxFact]
    public unsafe void WriteSockAddr_IPv4_WritesSockAddrInWithPortInNetworkOrder()
    {
        byte* address = stackalloc byte[LinuxNative.SockAddrSize];
        new Span<byte>(address, LinuxNative.SockAddrSize).Fill(0xFF);

        uint length = LinuxNative.WriteSockAddr(new IPEndPoint(IPAddress.Parse("192.0.2.10"), 0x1234), address);

        Assert.Equal(16u, length);
        Assert.Equal(LinuxNative.AfInet, *(ushort*)address);
        Assert.Equal(0x12, address[2]);
        Assert.Equal(0x34, address[3]);
        Assert.Equal(new byte[] { 192, 0, 2, 10 }, new Span<byte>(address + 4, 4).ToArray());
        // sin_zero and the rest of the buffer: cleared, not left over from a previous use.
        Assert.All(new Span<byte>(address + 8, LinuxNative.SockAddrSize - 8).ToArray(), b => Assert.Equal(0, b));
    }

    [LinuxFact]
    public unsafe void WriteSockAddr_IPv6WithScopeId_WritesSockAddrIn6()
    {
        byte* address = stackalloc byte[LinuxNative.SockAddrSize];
        new Span<byte>(address, LinuxNative.SockAddrSize).Fill(0xFF);
        var ip = IPAddress.Parse("fe80::1:2:3:4");
        ip.ScopeId = 3;

        uint length = LinuxNative.WriteSockAddr(new IPEndPoint(ip, 443), address);

        Assert.Equal(28u, length);
        Assert.Equal(LinuxNative.AfInet6, *(ushort*)address);
        Assert.Equal(0x01, address[2]);
        Assert.Equal(0xBB, address[3]);
        Assert.Equal(0u, *(uint*)(address + 4)); // sin6_flowinfo
        Assert.Equal(ip.GetAddressBytes(), new Span<byte>(address + 8, 16).ToArray());
        Assert.Equal(3u, *(uint*)(address + 24)); // sin6_scope_id
    }

    public static TheoryData<string, int> EndPoints => new()
    {
        { "127.0.0.1", 1 },
        { "10.1.2.3", 65535 },
        { "203.0.113.200", 0x0102 },
        { "::1", 2525 },
        { "2001:db8::8:800:200c:417a", 0x8001 },
        { "fe80::1%7", 443 },
        { "::ffff:192.0.2.1", 80 },
    };

    [LinuxTheory]
    [MemberData(nameof(EndPoints))]
    public unsafe void WriteSockAddr_ThenReadSockAddr_RoundTrips(string addressText, int port)
    {
        var endPoint = new IPEndPoint(IPAddress.Parse(addressText), port);
        byte* address = stackalloc byte[LinuxNative.SockAddrSize];

        LinuxNative.WriteSockAddr(endPoint, address);
        IPEndPoint? read = LinuxNative.ReadSockAddr(address);

        Assert.NotNull(read);
        Assert.Equal(endPoint, read);
        Assert.Equal(endPoint.AddressFamily, read.AddressFamily);
        if (endPoint.AddressFamily == AddressFamily.InterNetworkV6)
        {
            Assert.Equal(endPoint.Address.ScopeId, read.Address.ScopeId);
        }
    }

    [LinuxTheory]
    [MemberData(nameof(EndPoints))]
    public unsafe void WriteSockAddr_SameBytesAsDotNetSocketAddress(string addressText, int port)
    {
        // .NET's SocketAddress is the native sockaddr on Linux: what Socket.Bind/Connect pass to the kernel.
        var endPoint = new IPEndPoint(IPAddress.Parse(addressText), port);
        SocketAddress expected = endPoint.Serialize();
        byte* address = stackalloc byte[LinuxNative.SockAddrSize];

        uint length = LinuxNative.WriteSockAddr(endPoint, address);

        Assert.Equal(expected.Size, (int)length);
        Assert.Equal(expected.Buffer.Span[..expected.Size].ToArray(), new Span<byte>(address, (int)length).ToArray());
    }

    [LinuxTheory]
    [InlineData("127.0.0.1")]
    [InlineData("127.0.0.31")]
    [InlineData("::1")]
    public void LocalEndPoint_BoundSocket_ReadsWhatTheKernelReports(string addressText)
    {
        var ip = IPAddress.Parse(addressText);
        using var socket = new Socket(ip.AddressFamily, SocketType.Stream, ProtocolType.Tcp);
        socket.Bind(new IPEndPoint(ip, 0));

        IPEndPoint? read = LinuxNative.LocalEndPoint((int)socket.Handle);

        Assert.Equal(socket.LocalEndPoint, read);
        Assert.NotEqual(0, read!.Port);
    }

    [LinuxFact]
    public unsafe void ReadSockAddr_OtherFamily_ReturnsNull()
    {
        byte* address = stackalloc byte[LinuxNative.SockAddrSize];
        new Span<byte>(address, LinuxNative.SockAddrSize).Clear();
        *(ushort*)address = 1; // AF_UNIX

        Assert.Null(LinuxNative.ReadSockAddr(address));
    }

    [LinuxTheory]
    [InlineData(111, "ConnectionRefused")]
    [InlineData(110, "TimedOut")]
    [InlineData(104, "ConnectionReset")]
    [InlineData(101, "NetworkUnreachable")]
    [InlineData(113, "HostUnreachable")]
    [InlineData(24, "TooManyOpenSockets")]
    [InlineData(23, "TooManyOpenSockets")]
    [InlineData(12345, "SocketError")]
    public void ErrorType_Errno_MapsToSocketErrorName(int errno, string expected)
    {
        Assert.Equal(expected, LinuxNative.ErrorType(errno));
    }

    [LinuxFact]
    public async Task ErrorType_ConnectionRefused_MatchesWhatTheSocketsTransportReports()
    {
        // The sockets transport reports SocketException.SocketErrorCode.ToString(): both transports must tag
        // tcp_proxy connect errors alike.
        using var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        SocketException e = await Assert.ThrowsAsync<SocketException>(
            () => socket.ConnectAsync(new IPEndPoint(IPAddress.Loopback, Net.ClosedPort())).WaitAsync(Net.Timeout));

        Assert.Equal(e.SocketErrorCode.ToString(), LinuxNative.ErrorType(111));
    }
}
