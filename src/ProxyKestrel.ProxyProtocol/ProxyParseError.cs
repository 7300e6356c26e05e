namespace ProxyKestrel.ProxyProtocol;

/// <summary>Why a header is invalid. Every value maps to one rule of the specification or one configured limit.</summary>
public enum ProxyParseError
{
    /// <summary>No error.</summary>
    None = 0,

    /// <summary>The first bytes match neither the v1 <c>PROXY </c> prefix nor the v2 signature.</summary>
    NotProxyProtocol,

    /// <summary>The header is a valid start of version 1, which this receiver does not accept.</summary>
    V1NotAllowed,

    /// <summary>The header is a valid start of version 2, which this receiver does not accept.</summary>
    V2NotAllowed,

    /// <summary>v1: no CRLF within the first 107 bytes.</summary>
    V1LineTooLong,

    /// <summary>v1: a CR not followed by LF, or a LF without the CR before it.</summary>
    V1BadLineEnding,

    /// <summary>v1: a byte that cannot appear in a TCP4/TCP6 line.</summary>
    V1UnexpectedCharacter,

    /// <summary>v1: the protocol is not <c>TCP4</c>, <c>TCP6</c> or <c>UNKNOWN</c>.</summary>
    V1UnknownProtocol,

    /// <summary>v1: the fields are not separated by exactly one space, or there are too few or too many.</summary>
    V1BadFieldLayout,

    /// <summary>v1: the source address is not a canonical address of the announced family.</summary>
    V1BadSourceAddress,

    /// <summary>v1: the destination address is not a canonical address of the announced family.</summary>
    V1BadDestinationAddress,

    /// <summary>v1: the source port is not a decimal in 0–65535 without leading zeros.</summary>
    V1BadSourcePort,

    /// <summary>v1: the destination port is not a decimal in 0–65535 without leading zeros.</summary>
    V1BadDestinationPort,

    /// <summary>v2: the version nibble of byte 13 is not 2.</summary>
    V2BadVersion,

    /// <summary>v2: the command nibble is neither LOCAL (0) nor PROXY (1).</summary>
    V2BadCommand,

    /// <summary>
    /// v2 PROXY: byte 14 is none of the seven family/transport values of spec 2.2 (<c>0x00</c>, <c>0x11</c>,
    /// <c>0x12</c>, <c>0x21</c>, <c>0x22</c>, <c>0x31</c>, <c>0x32</c>): an unknown family nibble (4–F), or two
    /// valid nibbles that do not form a defined pair (<c>0x01</c>, <c>0x02</c>, <c>0x10</c>, <c>0x20</c>,
    /// <c>0x30</c>). A transport nibble above DGRAM is <see cref="V2BadTransport"/>. Never reported for LOCAL, whose
    /// family is ignored.
    /// </summary>
    V2BadAddressFamily,

    /// <summary>v2 PROXY: the family nibble is 0–3 and the transport nibble is above DGRAM (3–F).</summary>
    V2BadTransport,

    /// <summary>v2 PROXY: the announced length is smaller than the address block of the announced family.</summary>
    V2AddressBlockTooShort,

    /// <summary>v2: the announced length exceeds the configured maximum header size.</summary>
    V2HeaderTooLarge,

    /// <summary>v2: a TLV header or value runs past the end of the header.</summary>
    V2TlvTruncated,

    /// <summary>v2: a PP2_TYPE_CRC32C TLV whose value is not exactly 4 bytes, or more than one of them.</summary>
    V2BadCrc32CTlv,

    /// <summary>v2: the CRC32C checksum does not match the header.</summary>
    V2Crc32CMismatch,

    /// <summary>v2: a PP2_TYPE_UNIQUE_ID value longer than 128 bytes.</summary>
    V2UniqueIdTooLong,

    /// <summary>v2: a PP2_TYPE_SSL value shorter than 5 bytes or whose sub-TLVs run past it.</summary>
    V2BadSslTlv,
}
