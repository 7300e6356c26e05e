using System.Buffers;

namespace ProxyKestrel.ProxyProtocol;

/// <summary>The v1 text line: <c>PROXY TCP4|TCP6 src dst sport dport\r\n</c> or <c>PROXY UNKNOWN[ anything]\r\n</c>.</summary>
internal static class ProxyV1Parser
{
    // The bytes a TCP4/TCP6 line may hold between the keyword and the CRLF: space, '.', ':' and ASCII hex digits.
    private static readonly SearchValues<byte> TcpLineCharacters = SearchValues.Create(" .:0123456789ABCDEFabcdef"u8);

    private enum Protocol
    {
        Incomplete,
        Tcp4,
        Tcp6,
        Unknown,
        Invalid,
    }

    public static ProxyParseStatus Parse(in ReadOnlySequence<byte> buffer, out ProxyHeader header, out ProxyParseError error)
    {
        header = default;
        int available = (int)Math.Min(buffer.Length, ProxyHeaderParser.V1MaxLength);
        ReadOnlySpan<byte> first = buffer.FirstSpan;
        if (first.Length >= available)
        {
            return ParseLine(buffer, first[..available], out header, out error);
        }

        Span<byte> copy = stackalloc byte[ProxyHeaderParser.V1MaxLength];
        buffer.Slice(0, available).CopyTo(copy);
        return ParseLine(buffer, copy[..available], out header, out error);
    }

    private static ProxyParseStatus ParseLine(in ReadOnlySequence<byte> buffer, ReadOnlySpan<byte> line, out ProxyHeader header, out ProxyParseError error)
    {
        header = default;
        int p = ProxyHeaderParser.V1PrefixLength;
        if (line.Length <= p)
        {
            return ProxyHeaderParser.More(out error);
        }

        Protocol protocol = ReadProtocol(line[p..], out int tokenLength);
        switch (protocol)
        {
            case Protocol.Invalid:
                return ProxyHeaderParser.Fail(ProxyParseError.V1UnknownProtocol, out error);
            case Protocol.Incomplete:
                return ProxyHeaderParser.More(out error);
        }

        int afterToken = p + tokenLength;
        if (line.Length <= afterToken)
        {
            return ProxyHeaderParser.More(out error);
        }

        byte delimiter = line[afterToken];
        if (delimiter is not ((byte)' ' or (byte)'\r' or (byte)'\n'))
        {
            // The keyword goes on ("TCP44", "UNKNOWNX"): refuse it now rather than after the CRLF.
            return ProxyHeaderParser.Fail(ProxyParseError.V1UnknownProtocol, out error);
        }

        bool tcp = protocol != Protocol.Unknown;
        if (protocol == Protocol.Tcp4
            && TryParseWellFormedTcp4(line, afterToken, out uint fastSource, out uint fastDestination, out ushort fastSourcePort, out ushort fastDestinationPort, out int fastLength))
        {
            header = new ProxyHeader(
                ProxyProtocolVersion.V1, ProxyCommand.Proxy, ProxyAddressFamily.InterNetwork, ProxyTransport.Stream,
                fastLength, fastSource, fastDestination, fastSourcePort, fastDestinationPort, buffer.Slice(0, fastLength), 0);
            error = ProxyParseError.None;
            return ProxyParseStatus.Complete;
        }

        // Find the CRLF, checking characters as we go so garbage is refused without waiting for more bytes. For
        // TCP lines the first byte outside the allowed set is the CR, a stray LF or a bad character; for UNKNOWN
        // only CR and LF stop the scan (both searches are vectorized).
        ReadOnlySpan<byte> rest = line[afterToken..];
        int stop = tcp ? rest.IndexOfAnyExcept(TcpLineCharacters) : rest.IndexOfAny((byte)'\r', (byte)'\n');
        int cr = -1;
        if (stop >= 0)
        {
            int i = afterToken + stop;
            byte c = line[i];
            if (c == (byte)'\r')
            {
                if (i + 1 >= line.Length)
                {
                    // The CR is the last byte we have: wait for the LF unless the line is already at its maximum.
                    return line.Length >= ProxyHeaderParser.V1MaxLength
                        ? ProxyHeaderParser.Fail(ProxyParseError.V1LineTooLong, out error)
                        : ProxyHeaderParser.More(out error);
                }

                if (line[i + 1] != (byte)'\n')
                {
                    return ProxyHeaderParser.Fail(ProxyParseError.V1BadLineEnding, out error);
                }

                cr = i;
            }
            else if (c == (byte)'\n')
            {
                return ProxyHeaderParser.Fail(ProxyParseError.V1BadLineEnding, out error);
            }
            else
            {
                // Only reachable for TCP lines: any other byte outside " .:" and ASCII hex digits.
                return ProxyHeaderParser.Fail(ProxyParseError.V1UnexpectedCharacter, out error);
            }
        }

        if (cr < 0)
        {
            return line.Length >= ProxyHeaderParser.V1MaxLength
                ? ProxyHeaderParser.Fail(ProxyParseError.V1LineTooLong, out error)
                : ProxyHeaderParser.More(out error);
        }

        int length = cr + 2;
        if (protocol == Protocol.Unknown)
        {
            // "PROXY UNKNOWN\r\n", or "PROXY UNKNOWN " followed by anything the receiver must ignore.
            header = new ProxyHeader(
                ProxyProtocolVersion.V1, ProxyCommand.Proxy, ProxyAddressFamily.Unspecified, ProxyTransport.Unspecified,
                length, 0, 0, 0, 0, buffer.Slice(0, length), 0);
            error = ProxyParseError.None;
            return ProxyParseStatus.Complete;
        }

        if (delimiter != (byte)' ')
        {
            return ProxyHeaderParser.Fail(ProxyParseError.V1BadFieldLayout, out error);
        }

        ReadOnlySpan<byte> fields = line[(afterToken + 1)..cr];
        if (!SplitField(ref fields, out ReadOnlySpan<byte> src)
            || !SplitField(ref fields, out ReadOnlySpan<byte> dst)
            || !SplitField(ref fields, out ReadOnlySpan<byte> sport))
        {
            return ProxyHeaderParser.Fail(ProxyParseError.V1BadFieldLayout, out error);
        }

        ReadOnlySpan<byte> dport = fields;
        if (dport.IsEmpty || dport.Contains((byte)' '))
        {
            return ProxyHeaderParser.Fail(ProxyParseError.V1BadFieldLayout, out error);
        }

        UInt128 source, destination;
        ProxyAddressFamily family;
        if (protocol == Protocol.Tcp4)
        {
            family = ProxyAddressFamily.InterNetwork;
            if (!ProxyTextAddress.TryParseIPv4(src, out uint s4))
            {
                return ProxyHeaderParser.Fail(ProxyParseError.V1BadSourceAddress, out error);
            }

            if (!ProxyTextAddress.TryParseIPv4(dst, out uint d4))
            {
                return ProxyHeaderParser.Fail(ProxyParseError.V1BadDestinationAddress, out error);
            }

            source = s4;
            destination = d4;
        }
        else
        {
            family = ProxyAddressFamily.InterNetworkV6;
            if (!ProxyTextAddress.TryParseIPv6(src, out source))
            {
                return ProxyHeaderParser.Fail(ProxyParseError.V1BadSourceAddress, out error);
            }

            if (!ProxyTextAddress.TryParseIPv6(dst, out destination))
            {
                return ProxyHeaderParser.Fail(ProxyParseError.V1BadDestinationAddress, out error);
            }
        }

        if (!ProxyTextAddress.TryParsePort(sport, out ushort sourcePort))
        {
            return ProxyHeaderParser.Fail(ProxyParseError.V1BadSourcePort, out error);
        }

        if (!ProxyTextAddress.TryParsePort(dport, out ushort destinationPort))
        {
            return ProxyHeaderParser.Fail(ProxyParseError.V1BadDestinationPort, out error);
        }

        header = new ProxyHeader(
            ProxyProtocolVersion.V1, ProxyCommand.Proxy, family, ProxyTransport.Stream,
            length, source, destination, sourcePort, destinationPort, buffer.Slice(0, length), 0);
        error = ProxyParseError.None;
        return ProxyParseStatus.Complete;
    }

    // Fast path: one pass over a well-formed " a.b.c.d a.b.c.d sport dport\r\n" starting at the delimiter after "TCP4".
    // It accepts only lines the general path accepts, with the same values; anything else (every error, every
    // incomplete line) returns false and the general path decides, so the outcome never differs.
    private static bool TryParseWellFormedTcp4(
        ReadOnlySpan<byte> line,
        int position,
        out uint source,
        out uint destination,
        out ushort sourcePort,
        out ushort destinationPort,
        out int length)
    {
        int i = position;
        source = 0;
        destination = 0;
        sourcePort = 0;
        destinationPort = 0;
        length = 0;
        if (!TrySkip(line, ref i, (byte)' ')
            || !TryReadIPv4(line, ref i, out source)
            || !TrySkip(line, ref i, (byte)' ')
            || !TryReadIPv4(line, ref i, out destination)
            || !TrySkip(line, ref i, (byte)' ')
            || !TryReadDecimal(line, ref i, 5, out int sport) || sport > ushort.MaxValue
            || !TrySkip(line, ref i, (byte)' ')
            || !TryReadDecimal(line, ref i, 5, out int dport) || dport > ushort.MaxValue
            || !TrySkip(line, ref i, (byte)'\r')
            || !TrySkip(line, ref i, (byte)'\n'))
        {
            return false;
        }

        sourcePort = (ushort)sport;
        destinationPort = (ushort)dport;
        length = i;
        return true;
    }

    private static bool TrySkip(ReadOnlySpan<byte> line, ref int i, byte expected)
    {
        if ((uint)i >= (uint)line.Length || line[i] != expected)
        {
            return false;
        }

        i++;
        return true;
    }

    private static bool TryReadIPv4(ReadOnlySpan<byte> line, ref int i, out uint value)
    {
        value = 0;
        for (int octet = 0; octet < 4; octet++)
        {
            if ((octet > 0 && !TrySkip(line, ref i, (byte)'.')) || !TryReadDecimal(line, ref i, 3, out int v) || v > 255)
            {
                return false;
            }

            value = (value << 8) | (uint)v;
        }

        return true;
    }

    // 1 to maxDigits ASCII digits without a leading zero ("0" itself is fine).
    private static bool TryReadDecimal(ReadOnlySpan<byte> line, ref int i, int maxDigits, out int value)
    {
        value = 0;
        int start = i;
        while ((uint)i < (uint)line.Length)
        {
            uint digit = (uint)(line[i] - '0');
            if (digit > 9)
            {
                break;
            }

            if (i - start == maxDigits)
            {
                return false;
            }

            value = (value * 10) + (int)digit;
            i++;
        }

        int digits = i - start;
        return digits > 0 && (digits == 1 || line[start] != (byte)'0');
    }

    private static bool SplitField(ref ReadOnlySpan<byte> rest, out ReadOnlySpan<byte> field)
    {
        int space = rest.IndexOf((byte)' ');
        if (space <= 0)
        {
            // No separator left, or an empty field (two spaces in a row).
            field = default;
            return false;
        }

        field = rest[..space];
        rest = rest[(space + 1)..];
        return true;
    }

    private static Protocol ReadProtocol(ReadOnlySpan<byte> rest, out int tokenLength)
    {
        // The common case first: a whole TCP4 or TCP6 keyword (the generic matching below gives the same answer).
        if (rest.Length >= 4 && rest[..3].SequenceEqual("TCP"u8) && (rest[3] == (byte)'4' || rest[3] == (byte)'6'))
        {
            tokenLength = 4;
            return rest[3] == (byte)'4' ? Protocol.Tcp4 : Protocol.Tcp6;
        }

        // Compare what has arrived with each keyword; decide as soon as the bytes rule all of them out.
        tokenLength = 0;
        Protocol result = Protocol.Invalid;
        if (MatchKeyword(rest, "TCP4"u8, ref result, Protocol.Tcp4, ref tokenLength)
            | MatchKeyword(rest, "TCP6"u8, ref result, Protocol.Tcp6, ref tokenLength)
            | MatchKeyword(rest, "UNKNOWN"u8, ref result, Protocol.Unknown, ref tokenLength))
        {
            return result;
        }

        return Protocol.Invalid;
    }

    private static bool MatchKeyword(ReadOnlySpan<byte> rest, ReadOnlySpan<byte> keyword, ref Protocol result, Protocol value, ref int tokenLength)
    {
        int n = Math.Min(rest.Length, keyword.Length);
        if (!rest[..n].SequenceEqual(keyword[..n]))
        {
            return false;
        }

        if (n < keyword.Length)
        {
            result = Protocol.Incomplete;
            return true;
        }

        if (result != Protocol.Incomplete)
        {
            result = value;
            tokenLength = keyword.Length;
        }

        return true;
    }
}
