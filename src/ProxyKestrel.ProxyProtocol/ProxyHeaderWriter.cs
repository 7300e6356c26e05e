using System.Buffers;
using System.Net;

namespace ProxyKestrel.ProxyProtocol;

/// <summary>
/// Writes v1 headers into a caller's buffer without allocating. For v2 headers, with TLVs and an optional CRC32C,
/// use <see cref="ProxyV2HeaderWriter"/>.
/// </summary>
public static class ProxyHeaderWriter
{
    /// <summary>The longest v1 line, CRLF included; a buffer of this size always suffices.</summary>
    public const int V1MaxLength = ProxyHeaderParser.V1MaxLength;

    /// <summary>The length of <c>PROXY UNKNOWN\r\n</c>.</summary>
    public const int V1UnknownLength = 15;

    /// <summary>
    /// Writes <c>PROXY TCP4|TCP6 src dst sport dport\r\n</c>. Two IPv4 addresses (IPv4-mapped IPv6 counts as IPv4)
    /// give TCP4; otherwise TCP6, with an IPv4 address written as IPv4-mapped IPv6. A zone id is dropped.
    /// </summary>
    /// <returns>False when <paramref name="destination"/> is too small (at most <see cref="V1MaxLength"/> bytes are needed).</returns>
    public static bool TryWriteV1(
        Span<byte> destination,
        IPAddress sourceAddress,
        int sourcePort,
        IPAddress destinationAddress,
        int destinationPort,
        out int bytesWritten)
    {
        ArgumentNullException.ThrowIfNull(sourceAddress);
        ArgumentNullException.ThrowIfNull(destinationAddress);
        ArgumentOutOfRangeException.ThrowIfNegative(sourcePort);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(sourcePort, ushort.MaxValue);
        ArgumentOutOfRangeException.ThrowIfNegative(destinationPort);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(destinationPort, ushort.MaxValue);

        bytesWritten = 0;
        ProxyAddressFamily family = ProxyAddressEncoding.ChooseFamily(sourceAddress, destinationAddress);
        ReadOnlySpan<byte> start = family == ProxyAddressFamily.InterNetwork ? "PROXY TCP4 "u8 : "PROXY TCP6 "u8;
        int p = 0;
        if (!Append(destination, ref p, start)
            || !AppendAddress(destination, ref p, sourceAddress, family)
            || !Append(destination, ref p, " "u8)
            || !AppendAddress(destination, ref p, destinationAddress, family)
            || !Append(destination, ref p, " "u8)
            || !AppendPort(destination, ref p, sourcePort)
            || !Append(destination, ref p, " "u8)
            || !AppendPort(destination, ref p, destinationPort)
            || !Append(destination, ref p, "\r\n"u8))
        {
            return false;
        }

        bytesWritten = p;
        return true;
    }

    /// <summary>Writes a v1 line for two IP endpoints; throws when <paramref name="destination"/> is too small.</summary>
    /// <returns>The number of bytes written.</returns>
    public static int WriteV1(Span<byte> destination, IPEndPoint source, IPEndPoint destinationEndPoint)
    {
        ArgumentNullException.ThrowIfNull(source);
        ArgumentNullException.ThrowIfNull(destinationEndPoint);
        if (!TryWriteV1(destination, source.Address, source.Port, destinationEndPoint.Address, destinationEndPoint.Port, out int written))
        {
            throw new ArgumentException($"The destination must hold at least {V1MaxLength} bytes.", nameof(destination));
        }

        return written;
    }

    /// <summary>Writes a v1 line for two IP endpoints into <paramref name="output"/> and advances it.</summary>
    /// <returns>The number of bytes written.</returns>
    public static int WriteV1(IBufferWriter<byte> output, IPEndPoint source, IPEndPoint destinationEndPoint)
    {
        ArgumentNullException.ThrowIfNull(output);
        int written = WriteV1(output.GetSpan(V1MaxLength), source, destinationEndPoint);
        output.Advance(written);
        return written;
    }

    /// <summary>Writes <c>PROXY UNKNOWN\r\n</c> (for connections whose endpoints cannot be expressed).</summary>
    /// <returns>The number of bytes written, <see cref="V1UnknownLength"/>.</returns>
    public static int WriteV1Unknown(Span<byte> destination)
    {
        if (!"PROXY UNKNOWN\r\n"u8.TryCopyTo(destination))
        {
            throw new ArgumentException($"The destination must hold at least {V1UnknownLength} bytes.", nameof(destination));
        }

        return V1UnknownLength;
    }

    /// <summary>Writes <c>PROXY UNKNOWN\r\n</c> into <paramref name="output"/> and advances it.</summary>
    /// <returns>The number of bytes written, <see cref="V1UnknownLength"/>.</returns>
    public static int WriteV1Unknown(IBufferWriter<byte> output)
    {
        ArgumentNullException.ThrowIfNull(output);
        int written = WriteV1Unknown(output.GetSpan(V1UnknownLength));
        output.Advance(written);
        return written;
    }

    private static bool Append(Span<byte> destination, ref int position, ReadOnlySpan<byte> text)
    {
        if (!text.TryCopyTo(destination[position..]))
        {
            return false;
        }

        position += text.Length;
        return true;
    }

    private static bool AppendAddress(Span<byte> destination, ref int position, IPAddress address, ProxyAddressFamily family)
    {
        if (!ProxyAddressEncoding.TryFormat(address, family, destination[position..], out int n))
        {
            return false;
        }

        position += n;
        return true;
    }

    private static bool AppendPort(Span<byte> destination, ref int position, int port)
    {
        if (!port.TryFormat(destination[position..], out int n, default, System.Globalization.CultureInfo.InvariantCulture))
        {
            return false;
        }

        position += n;
        return true;
    }
}
