using System.Net;
using System.Net.Sockets;

namespace ProxyKestrel.ProxyProtocol;

/// <summary>
/// Reads the address bytes out of a <see cref="SocketAddress"/> in place, without creating an <see cref="IPAddress"/>.
/// sockaddr_in and sockaddr_in6 have the same layout on Windows, Linux and the BSDs (a 2-byte family, or a length
/// byte and a family byte, then the port in network order): the IPv4 address is at offset 4, the IPv6 one at 8.
/// </summary>
internal static class SocketAddressBytes
{
    private const int IPv4Offset = 4;
    private const int IPv6Offset = 8;

    /// <summary>The 4 or 16 address bytes, network order; empty for another family or a too short address.</summary>
    public static ReadOnlySpan<byte> Address(SocketAddress address)
    {
        ArgumentNullException.ThrowIfNull(address);
        (int offset, int length) = address.Family switch
        {
            AddressFamily.InterNetwork => (IPv4Offset, 4),
            AddressFamily.InterNetworkV6 => (IPv6Offset, 16),
            _ => (0, 0),
        };
        return length > 0 && address.Size >= offset + length ? address.Buffer.Span.Slice(offset, length) : default;
    }
}
