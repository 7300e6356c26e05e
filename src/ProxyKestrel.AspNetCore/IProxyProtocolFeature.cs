using System.Net;
using ProxyKestrel.ProxyProtocol;

namespace ProxyKestrel.AspNetCore;

/// <summary>
/// What the PROXY header of this connection said. Set on the connection's features when a header was accepted, so it
/// is also reachable from <c>HttpContext.Features</c>. Values are copies: they stay valid for the connection's life.
/// </summary>
public interface IProxyProtocolFeature
{
    /// <summary>The header version, 1 or 2.</summary>
    ProxyProtocolVersion Version { get; }

    /// <summary>PROXY (relayed) or LOCAL (the proxy's own connection, e.g. a health check).</summary>
    ProxyCommand Command { get; }

    /// <summary>The announced address family.</summary>
    ProxyAddressFamily AddressFamily { get; }

    /// <summary>The announced transport (stream for TCP).</summary>
    ProxyTransport Transport { get; }

    /// <summary>The original client endpoint from the header, or null when the header carried none (LOCAL, UNKNOWN, AF_UNSPEC, AF_UNIX).</summary>
    IPEndPoint? Source { get; }

    /// <summary>The endpoint the client originally connected to, or null when the header carried none.</summary>
    IPEndPoint? Destination { get; }

    /// <summary>The proxy's own endpoint: the real remote endpoint of the socket.</summary>
    EndPoint? ProxyEndPoint { get; }

    /// <summary>The real local endpoint of the socket.</summary>
    EndPoint? SocketLocalEndPoint { get; }

    /// <summary>All TLVs in wire order (v2 only; empty for v1).</summary>
    IReadOnlyList<ProxyProtocolTlv> Tlvs { get; }

    /// <summary>PP2_TYPE_ALPN, e.g. <c>h2</c>.</summary>
    ReadOnlyMemory<byte>? Alpn { get; }

    /// <summary>PP2_TYPE_AUTHORITY (the host name the client asked for, usually TLS SNI).</summary>
    string? Authority { get; }

    /// <summary>PP2_TYPE_UNIQUE_ID.</summary>
    ReadOnlyMemory<byte>? UniqueId { get; }

    /// <summary>PP2_TYPE_NETNS.</summary>
    string? NetworkNamespace { get; }

    /// <summary>PP2_TYPE_SSL details, or null.</summary>
    ProxyProtocolSslInfo? Ssl { get; }

    /// <summary>AWS VPC endpoint id (TLV 0xEA, subtype 0x01), e.g. <c>vpce-08d2bf15fac5001c9</c>.</summary>
    string? AwsVpcEndpointId { get; }

    /// <summary>Azure Private Link LinkID (TLV 0xEE, subtype 0x01).</summary>
    uint? AzurePrivateLinkId { get; }

    /// <summary>Google Cloud Private Service Connect connection id (TLV 0xE0).</summary>
    ulong? GcpPscConnectionId { get; }
}
