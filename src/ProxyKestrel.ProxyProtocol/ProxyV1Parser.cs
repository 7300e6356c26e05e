using System.Buffers;

namespace ProxyKestrel.ProxyProtocol;

/// <summary>The v1 text line: <c>PROXY TCP4|TCP6 src dst sport dport\r\n</c> or <c>PROXY UNKNOWN[ anything]\r\n</c>.</summary>
internal static class ProxyV1Parser
{
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
        bool tcp = protocol != Protocol.Unknown;

        // Find the CRLF, checking characters as we go so garbage is refused without waiting for more bytes.
        int cr = -1;
        for (int i = afterToken; i < line.Length; i++)
        {
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
                break;
            }

            if (c == (byte)'\n')
            {
                return ProxyHeaderParser.Fail(ProxyParseError.V1BadLineEnding, out error);
            }

            if (tcp && !IsTcpLineCharacter(c))
            {
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
            if (delimiter != (byte)' ' && delimiter != (byte)'\r')
            {
                return ProxyHeaderParser.Fail(ProxyParseError.V1UnknownProtocol, out error);
            }

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

    private static bool IsTcpLineCharacter(byte c) =>
        c == (byte)' ' || c == (byte)'.' || c == (byte)':' || char.IsAsciiHexDigit((char)c);
}
