namespace ProxyKestrel.AspNetCore;

/// <summary>One TLV received in a v2 header, copied for the connection's life.</summary>
/// <param name="Type">The TLV type byte.</param>
/// <param name="Value">The value bytes.</param>
public sealed record ProxyProtocolTlv(byte Type, ReadOnlyMemory<byte> Value);
