namespace ProxyKestrel.ProxyProtocol;

/// <summary>What <see cref="ProxyDatagramReceiver.Receive(ReadOnlyMemory{byte}, System.Net.EndPoint, out ProxyDatagram)"/> decided about one datagram.</summary>
public enum ProxyDatagramStatus
{
    /// <summary>
    /// A trusted peer sent a valid v2 header with a datagram (or unspecified) transport, or a LOCAL header:
    /// <see cref="ProxyDatagram.Header"/> is set and <see cref="ProxyDatagram.Payload"/> is the rest of the datagram.
    /// </summary>
    Accepted,

    /// <summary>
    /// The datagram is used as it is, with the real remote endpoint as the client: an untrusted peer under
    /// <see cref="UntrustedPeerBehavior.Passthrough"/> (nothing is parsed, even bytes that look like a header), or a
    /// trusted peer in <see cref="ProxyProtocolMode.Optional"/> mode whose datagram does not begin with (a part of)
    /// the v2 signature nor with the v1 <c>PROXY </c> prefix. <see cref="ProxyDatagram.Payload"/> is the whole datagram.
    /// </summary>
    NoHeader,

    /// <summary>Drop the datagram; <see cref="ProxyDatagram.Rejection"/> (and <see cref="ProxyDatagram.Error"/>) say why.</summary>
    Rejected,
}
