using System.Buffers;

namespace ProxyKestrel.ProxyProtocol;

/// <summary>One TLV of a v2 header. <see cref="Value"/> points into the parsed buffer; it is not a copy.</summary>
/// <param name="Type">The TLV type byte (see <see cref="ProxyTlvType"/>).</param>
/// <param name="Value">The value bytes, valid as long as the buffer the header was parsed from.</param>
public readonly record struct ProxyTlv(byte Type, ReadOnlySequence<byte> Value)
{
    /// <summary>True for the application-specific range 0xE0–0xEF.</summary>
    public bool IsCustom => Type is >= 0xE0 and <= 0xEF;

    /// <summary>True for the experimental range 0xF0–0xF7.</summary>
    public bool IsExperimental => Type is >= 0xF0 and <= 0xF7;

    /// <summary>True for the range reserved for future use, 0xF8–0xFF.</summary>
    public bool IsReservedForFuture => Type >= 0xF8;
}
