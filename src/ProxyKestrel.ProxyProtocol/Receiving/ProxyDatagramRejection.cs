namespace ProxyKestrel.ProxyProtocol;

/// <summary>Why a datagram was <see cref="ProxyDatagramStatus.Rejected"/>.</summary>
public enum ProxyDatagramRejection
{
    /// <summary>Not rejected.</summary>
    None,

    /// <summary>The peer is outside <see cref="ProxyProtocolOptions.TrustedNetworks"/> and <see cref="UntrustedPeerBehavior.Reject"/> is set; nothing was parsed.</summary>
    UntrustedPeer,

    /// <summary>
    /// <see cref="ProxyProtocolMode.Required"/> and a trusted peer's datagram (possibly empty) does not begin with the
    /// v2 signature. <see cref="ProxyDatagram.Error"/> is <see cref="ProxyParseError.NotProxyProtocol"/>.
    /// </summary>
    MissingHeader,

    /// <summary>
    /// The datagram ends inside a v2 header: within the signature or the 16-byte fixed part, or before the end of the
    /// length that the header announces. In both modes: bytes that can only be the start of a header are never passed
    /// on as payload.
    /// </summary>
    Truncated,

    /// <summary>
    /// The datagram begins with the v1 <c>PROXY </c> prefix: v1 is a TCP-only text format, never valid on a datagram,
    /// whatever <see cref="ProxyProtocolOptions.AllowedVersions"/> says. <see cref="ProxyDatagram.Error"/> is
    /// <see cref="ProxyParseError.V1NotAllowed"/>.
    /// </summary>
    V1Header,

    /// <summary>
    /// A valid v2 PROXY header announcing a stream transport (TCP over IPv4 <c>0x11</c>, IPv6 <c>0x21</c>, or a UNIX
    /// stream socket <c>0x31</c>) arrived in a datagram. LOCAL headers, whose family is ignored, are never rejected for this.
    /// </summary>
    StreamTransport,

    /// <summary>The v2 header is invalid (CRC32C mismatch, bad TLV, too large, ...); <see cref="ProxyDatagram.Error"/> names the rule.</summary>
    InvalidHeader,
}
