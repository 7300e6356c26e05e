using System.Buffers.Binary;
using System.Net;
using System.Net.Sockets;

namespace ProxyKestrel.ProxyProtocol;

/// <summary>Turns a pair of <see cref="IPAddress"/> into the family and bytes a header carries, without allocating.</summary>
internal static class ProxyAddressEncoding
{
    /// <summary>
    /// Both IPv4 (IPv4-mapped IPv6 counts as IPv4) → INET. Otherwise INET6, with any IPv4 address written as
    /// IPv4-mapped IPv6 so both addresses share the family, as the specification requires.
    /// </summary>
    public static ProxyAddressFamily ChooseFamily(IPAddress source, IPAddress destination) =>
        IsIPv4(source) && IsIPv4(destination) ? ProxyAddressFamily.InterNetwork : ProxyAddressFamily.InterNetworkV6;

    /// <summary>Writes 4 (INET) or 16 (INET6) bytes of <paramref name="address"/>.</summary>
    public static void WriteBytes(IPAddress address, ProxyAddressFamily family, Span<byte> destination)
    {
        Span<byte> raw = stackalloc byte[16];
        if (!address.TryWriteBytes(raw, out int length))
        {
            throw new ArgumentException("The address could not be written.", nameof(address));
        }

        bool mapped = length == 16 && address.IsIPv4MappedToIPv6;
        if (family == ProxyAddressFamily.InterNetwork)
        {
            (mapped ? raw.Slice(12, 4) : raw[..4]).CopyTo(destination);
            return;
        }

        if (length == 4)
        {
            destination[..10].Clear();
            destination[10] = 0xFF;
            destination[11] = 0xFF;
            raw[..4].CopyTo(destination[12..]);
            return;
        }

        raw.CopyTo(destination);
    }

    /// <summary>Writes the v1 text form of <paramref name="address"/> in the given family; returns the byte count.</summary>
    public static bool TryFormat(IPAddress address, ProxyAddressFamily family, Span<byte> destination, out int written)
    {
        Span<byte> raw = stackalloc byte[16];
        WriteBytes(address, family, raw);
        if (family == ProxyAddressFamily.InterNetwork)
        {
            return TryFormatIPv4(BinaryPrimitives.ReadUInt32BigEndian(raw), destination, out written);
        }

        if (address.AddressFamily == AddressFamily.InterNetworkV6 && address.ScopeId == 0)
        {
            // RFC 5952 text (lowercase, longest zero run compressed); IPv4-mapped as ::ffff:a.b.c.d.
            return address.TryFormat(destination, out written);
        }

        // An IPv4 address mapped into IPv6, or an IPv6 address with a zone id (dropped: it has no meaning remotely).
        if (address.AddressFamily == AddressFamily.InterNetwork)
        {
            ReadOnlySpan<byte> prefix = "::ffff:"u8;
            if (!prefix.TryCopyTo(destination) || !TryFormatIPv4(BinaryPrimitives.ReadUInt32BigEndian(raw[12..]), destination[prefix.Length..], out int tail))
            {
                written = 0;
                return false;
            }

            written = prefix.Length + tail;
            return true;
        }

        if (!address.TryFormat(destination, out written))
        {
            return false;
        }

        int percent = destination[..written].IndexOf((byte)'%');
        if (percent >= 0)
        {
            written = percent;
        }

        return true;
    }

    public static bool TryFormatIPv4(uint value, Span<byte> destination, out int written)
    {
        written = 0;
        for (int shift = 24; shift >= 0; shift -= 8)
        {
            if (shift != 24)
            {
                if (written >= destination.Length)
                {
                    return false;
                }

                destination[written++] = (byte)'.';
            }

            if (!((byte)(value >> shift)).TryFormat(destination[written..], out int n, default, System.Globalization.CultureInfo.InvariantCulture))
            {
                return false;
            }

            written += n;
        }

        return true;
    }

    private static bool IsIPv4(IPAddress address) =>
        address.AddressFamily == AddressFamily.InterNetwork || address.IsIPv4MappedToIPv6;
}
