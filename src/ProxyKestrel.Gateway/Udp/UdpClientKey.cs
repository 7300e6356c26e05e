using System.Buffers.Binary;
using System.Net;
using System.Net.Sockets;

namespace ProxyKestrel.Gateway.Udp;

/// <summary>
/// Identifies a session: the datagram's sender and, behind an upstream proxy that sends a PROXY header, the client the
/// header names (an upstream such as dnsdist sends many clients' datagrams from one socket). Built from the raw
/// socket address, without allocating.
/// </summary>
internal readonly record struct UdpClientKey(UInt128 Sender, int SenderPort, UInt128 Client, int ClientPort)
{
    /// <summary>The key of a datagram from <paramref name="sender"/> without an upstream header.</summary>
    public static UdpClientKey From(SocketAddress sender) => new(AddressOf(sender, out int port), port, 0, -1);

    /// <summary>The key of a datagram from <paramref name="sender"/> whose upstream header names <paramref name="client"/>.</summary>
    public static UdpClientKey From(SocketAddress sender, in ProxyHeader client)
    {
        UInt128 address = 0;
        Span<byte> bytes = stackalloc byte[16];
        int length = client.CopySourceAddress(bytes);
        if (length == 4)
        {
            address = (UInt128)0xFFFF_0000_0000 | BinaryPrimitives.ReadUInt32BigEndian(bytes);
        }
        else if (length == 16)
        {
            address = BinaryPrimitives.ReadUInt128BigEndian(bytes);
        }

        return new(AddressOf(sender, out int port), port, address, length == 0 ? -1 : client.SourcePort);
    }

    /// <summary>An IPv4 or IPv6 socket address as an IPv6 number (IPv4 mapped); the port in host order.</summary>
    private static UInt128 AddressOf(SocketAddress address, out int port)
    {
        ReadOnlySpan<byte> raw = address.Buffer.Span;
        // sockaddr_in / sockaddr_in6: family (2), port (2, network order), then the address (IPv6 after a 4-byte flow info).
        port = BinaryPrimitives.ReadUInt16BigEndian(raw.Slice(2, 2));
        return address.Family == AddressFamily.InterNetworkV6
            ? BinaryPrimitives.ReadUInt128BigEndian(raw.Slice(8, 16))
            : (UInt128)0xFFFF_0000_0000 | BinaryPrimitives.ReadUInt32BigEndian(raw.Slice(4, 4));
    }
}
