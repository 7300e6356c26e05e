using System.Buffers;
using System.Buffers.Binary;

namespace ProxyKestrel.ProxyProtocol;

/// <summary>
/// A strict, incremental PROXY protocol v1/v2 parser over <see cref="ReadOnlySequence{T}"/> (HAProxy's
/// doc/proxy-protocol.txt). It never reads past the header: on <see cref="ProxyParseStatus.Complete"/> exactly
/// <see cref="ProxyHeader.Length"/> bytes belong to the header and the rest belongs to the application.
/// Parsing allocates nothing.
/// </summary>
/// <remarks>
/// Call it with every byte received since the connection started. On <see cref="ProxyParseStatus.NeedMoreData"/>
/// consume nothing and mark everything examined; a prefix that can never become a valid header is reported as
/// <see cref="ProxyParseStatus.Invalid"/> at once, without waiting for more data.
/// </remarks>
public static class ProxyHeaderParser
{
    /// <summary>The longest v1 line, CRLF included.</summary>
    public const int V1MaxLength = 107;

    /// <summary>The fixed part of a v2 header: signature, version/command, family/transport, length.</summary>
    public const int V2FixedLength = 16;

    /// <summary>The largest possible v2 header.</summary>
    public const int V2MaxLength = V2FixedLength + ushort.MaxValue;

    /// <summary>Number of bytes after which the version of a header is known (the v2 signature length).</summary>
    public const int DetectionLength = 12;

    internal const int V1PrefixLength = 6;

    /// <summary>The 12-byte v2 signature.</summary>
    public static ReadOnlySpan<byte> V2Signature => [0x0D, 0x0A, 0x0D, 0x0A, 0x00, 0x0D, 0x0A, 0x51, 0x55, 0x49, 0x54, 0x0A];

    /// <summary>The v1 prefix, <c>PROXY </c> with its space.</summary>
    public static ReadOnlySpan<byte> V1Prefix => "PROXY "u8;

    /// <summary>Parses with <see cref="ProxyHeaderParserOptions.Default"/>.</summary>
    public static ProxyParseStatus Parse(in ReadOnlySequence<byte> buffer, out ProxyHeader header, out ProxyParseError error)
        => Parse(buffer, ProxyHeaderParserOptions.Default, out header, out error);

    /// <summary>Parses a header from the start of <paramref name="buffer"/>.</summary>
    /// <param name="buffer">All bytes received since the connection started (or more).</param>
    /// <param name="options">Accepted versions and the v2 size limit.</param>
    /// <param name="header">The header when the result is <see cref="ProxyParseStatus.Complete"/>.</param>
    /// <param name="error">The specific reason when the result is <see cref="ProxyParseStatus.Invalid"/>.</param>
    public static ProxyParseStatus Parse(
        in ReadOnlySequence<byte> buffer,
        in ProxyHeaderParserOptions options,
        out ProxyHeader header,
        out ProxyParseError error)
    {
        header = default;
        error = ProxyParseError.None;
        if (buffer.IsEmpty)
        {
            return ProxyParseStatus.NeedMoreData;
        }

        ReadOnlySpan<byte> first = buffer.FirstSpan;
        if (first.Length < V2FixedLength && !buffer.IsSingleSegment)
        {
            Span<byte> prefix = stackalloc byte[V2FixedLength];
            int available = (int)Math.Min(buffer.Length, V2FixedLength);
            buffer.Slice(0, available).CopyTo(prefix);
            return Dispatch(buffer, prefix[..available], options, out header, out error);
        }

        return Dispatch(buffer, first, options, out header, out error);
    }

    private static ProxyParseStatus Dispatch(
        in ReadOnlySequence<byte> buffer,
        ReadOnlySpan<byte> start,
        in ProxyHeaderParserOptions options,
        out ProxyHeader header,
        out ProxyParseError error)
    {
        header = default;
        byte b0 = start[0];
        if (b0 == (byte)'P')
        {
            int n = Math.Min(start.Length, V1PrefixLength);
            if (!start[..n].SequenceEqual(V1Prefix[..n]))
            {
                return Fail(ProxyParseError.NotProxyProtocol, out error);
            }

            if ((options.AllowedVersions & ProxyProtocolVersions.V1) == 0)
            {
                return Fail(ProxyParseError.V1NotAllowed, out error);
            }

            return ProxyV1Parser.Parse(buffer, out header, out error);
        }

        if (b0 == 0x0D)
        {
            int n = Math.Min(start.Length, V2Signature.Length);
            if (!start[..n].SequenceEqual(V2Signature[..n]))
            {
                return Fail(ProxyParseError.NotProxyProtocol, out error);
            }

            if ((options.AllowedVersions & ProxyProtocolVersions.V2) == 0)
            {
                return Fail(ProxyParseError.V2NotAllowed, out error);
            }

            return ProxyV2Parser.Parse(buffer, start, options, out header, out error);
        }

        return Fail(ProxyParseError.NotProxyProtocol, out error);
    }

    internal static ProxyParseStatus Fail(ProxyParseError reason, out ProxyParseError error)
    {
        error = reason;
        return ProxyParseStatus.Invalid;
    }

    internal static ProxyParseStatus More(out ProxyParseError error)
    {
        error = ProxyParseError.None;
        return ProxyParseStatus.NeedMoreData;
    }

    internal static int ClampMaxHeaderSize(int value) =>
        Math.Clamp(value, ProxyHeaderParserOptions.MinMaxHeaderSize, ProxyHeaderParserOptions.MaxMaxHeaderSize);

    internal static ushort ReadLength(ReadOnlySpan<byte> fixedPart) => BinaryPrimitives.ReadUInt16BigEndian(fixedPart[14..]);
}
