namespace ProxyKestrel.ProxyProtocol;

/// <summary>Strict text forms used by v1 lines: dotted IPv4 without leading zeros, RFC 4291 IPv6, decimal ports.</summary>
internal static class ProxyTextAddress
{
    /// <summary>Exactly four decimal octets 0–255, no leading zeros, single dots.</summary>
    public static bool TryParseIPv4(ReadOnlySpan<byte> text, out uint value)
    {
        value = 0;
        int octets = 0;
        int i = 0;
        while (true)
        {
            int start = i;
            int octet = 0;
            while (i < text.Length && i - start < 4 && char.IsAsciiDigit((char)text[i]))
            {
                octet = (octet * 10) + (text[i] - '0');
                i++;
            }

            int digits = i - start;
            if (digits == 0 || digits > 3 || octet > 255 || (digits > 1 && text[start] == (byte)'0'))
            {
                return false;
            }

            value = (value << 8) | (uint)octet;
            octets++;
            if (octets == 4)
            {
                return i == text.Length;
            }

            if (i >= text.Length || text[i] != (byte)'.')
            {
                return false;
            }

            i++;
        }
    }

    /// <summary>
    /// RFC 4291 section 2.2 text: eight groups of 1–4 hex digits, at most one <c>::</c> standing for at least one
    /// zero group, optionally ending in a dotted IPv4 address. No zone id, no brackets.
    /// </summary>
    public static bool TryParseIPv6(ReadOnlySpan<byte> text, out UInt128 value)
    {
        value = 0;
        if (text.Length < 2 || text.Length > 45)
        {
            return false;
        }

        Span<ushort> groups = stackalloc ushort[8];
        int count = 0;
        int compressAt = -1;
        int i = 0;
        if (text[0] == (byte)':')
        {
            if (text[1] != (byte)':')
            {
                return false;
            }

            compressAt = 0;
            i = 2;
            if (i == text.Length)
            {
                return true;
            }
        }

        while (true)
        {
            if (count == 8)
            {
                return false;
            }

            int start = i;
            int group = 0;
            while (i < text.Length && i - start < 5 && char.IsAsciiHexDigit((char)text[i]))
            {
                group = (group << 4) | HexValue(text[i]);
                i++;
            }

            int digits = i - start;
            if (i < text.Length && text[i] == (byte)'.')
            {
                // Embedded IPv4 in the last 32 bits.
                if (count > 6 || !TryParseIPv4(text[start..], out uint v4))
                {
                    return false;
                }

                groups[count++] = (ushort)(v4 >> 16);
                groups[count++] = (ushort)v4;
                break;
            }

            if (digits == 0 || digits > 4)
            {
                return false;
            }

            groups[count++] = (ushort)group;
            if (i == text.Length)
            {
                break;
            }

            if (text[i] != (byte)':')
            {
                return false;
            }

            i++;
            if (i < text.Length && text[i] == (byte)':')
            {
                if (compressAt >= 0)
                {
                    return false;
                }

                compressAt = count;
                i++;
                if (i == text.Length)
                {
                    break;
                }
            }
            else if (i == text.Length)
            {
                // A trailing single colon.
                return false;
            }
        }

        if (compressAt < 0)
        {
            if (count != 8)
            {
                return false;
            }
        }
        else
        {
            if (count > 7)
            {
                return false;
            }

            int zeros = 8 - count;
            for (int k = count - 1; k >= compressAt; k--)
            {
                groups[k + zeros] = groups[k];
            }

            groups.Slice(compressAt, zeros).Clear();
        }

        UInt128 result = 0;
        for (int k = 0; k < 8; k++)
        {
            result = (result << 16) | groups[k];
        }

        value = result;
        return true;
    }

    /// <summary>A decimal 0–65535 without leading zeros ("0" itself is allowed).</summary>
    public static bool TryParsePort(ReadOnlySpan<byte> text, out ushort port)
    {
        port = 0;
        if (text.IsEmpty || text.Length > 5 || (text.Length > 1 && text[0] == (byte)'0'))
        {
            return false;
        }

        int value = 0;
        foreach (byte c in text)
        {
            if (!char.IsAsciiDigit((char)c))
            {
                return false;
            }

            value = (value * 10) + (c - '0');
        }

        if (value > ushort.MaxValue)
        {
            return false;
        }

        port = (ushort)value;
        return true;
    }

    private static int HexValue(byte c) => c switch
    {
        >= (byte)'0' and <= (byte)'9' => c - '0',
        >= (byte)'a' and <= (byte)'f' => c - 'a' + 10,
        _ => c - 'A' + 10,
    };
}
