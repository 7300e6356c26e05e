namespace ProxyKestrel.ProxyProtocol;

/// <summary>Human-readable descriptions of <see cref="ProxyParseError"/> values, for logs and diagnostics.</summary>
public static class ProxyParseErrorExtensions
{
    /// <summary>Returns a fixed, specific description of the error (no allocation).</summary>
    public static string Describe(this ProxyParseError error) => error switch
    {
        ProxyParseError.None => "no error",
        ProxyParseError.NotProxyProtocol => "the first bytes are neither a PROXY v1 line nor the PROXY v2 signature",
        ProxyParseError.V1NotAllowed => "a PROXY v1 header was received but v1 is not accepted here",
        ProxyParseError.V2NotAllowed => "a PROXY v2 header was received but v2 is not accepted here",
        ProxyParseError.V1LineTooLong => "PROXY v1 line has no CRLF within 107 bytes",
        ProxyParseError.V1BadLineEnding => "PROXY v1 line does not end with CRLF (lone CR or LF)",
        ProxyParseError.V1UnexpectedCharacter => "PROXY v1 line contains a character not allowed in an address or port",
        ProxyParseError.V1UnknownProtocol => "PROXY v1 protocol is not TCP4, TCP6 or UNKNOWN",
        ProxyParseError.V1BadFieldLayout => "PROXY v1 fields are not exactly 'src dst sport dport' separated by single spaces",
        ProxyParseError.V1BadSourceAddress => "PROXY v1 source address is not a canonical address of the announced family",
        ProxyParseError.V1BadDestinationAddress => "PROXY v1 destination address is not a canonical address of the announced family",
        ProxyParseError.V1BadSourcePort => "PROXY v1 source port is not 0-65535 in decimal without leading zeros",
        ProxyParseError.V1BadDestinationPort => "PROXY v1 destination port is not 0-65535 in decimal without leading zeros",
        ProxyParseError.V2BadVersion => "PROXY v2 version nibble is not 2",
        ProxyParseError.V2BadCommand => "PROXY v2 command is neither LOCAL nor PROXY",
        ProxyParseError.V2BadAddressFamily => "PROXY v2 family/transport byte is not one of 0x00, 0x11, 0x12, 0x21, 0x22, 0x31, 0x32",
        ProxyParseError.V2BadTransport => "PROXY v2 transport is not STREAM or DGRAM",
        ProxyParseError.V2AddressBlockTooShort => "PROXY v2 length is shorter than the address block of its family",
        ProxyParseError.V2HeaderTooLarge => "PROXY v2 header is larger than the configured maximum",
        ProxyParseError.V2TlvTruncated => "PROXY v2 TLV runs past the end of the header",
        ProxyParseError.V2BadCrc32CTlv => "PROXY v2 CRC32C TLV is not exactly 4 bytes or appears more than once",
        ProxyParseError.V2Crc32CMismatch => "PROXY v2 CRC32C checksum does not match the header",
        ProxyParseError.V2UniqueIdTooLong => "PROXY v2 UNIQUE_ID TLV is longer than 128 bytes",
        ProxyParseError.V2BadSslTlv => "PROXY v2 SSL TLV is shorter than 5 bytes or its sub-TLVs run past it",
        _ => "unknown PROXY protocol error",
    };
}
