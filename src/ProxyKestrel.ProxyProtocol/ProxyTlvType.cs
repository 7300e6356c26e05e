namespace ProxyKestrel.ProxyProtocol;

/// <summary>Registered and well-known v2 TLV types.</summary>
public enum ProxyTlvType : byte
{
    /// <summary>PP2_TYPE_ALPN: the application protocol negotiated with the client (for example <c>h2</c>).</summary>
    Alpn = 0x01,

    /// <summary>PP2_TYPE_AUTHORITY: the host name the client asked for (usually TLS SNI), UTF-8.</summary>
    Authority = 0x02,

    /// <summary>PP2_TYPE_CRC32C: a CRC32C checksum of the whole header, big-endian.</summary>
    Crc32C = 0x03,

    /// <summary>PP2_TYPE_NOOP: padding, ignored.</summary>
    Noop = 0x04,

    /// <summary>PP2_TYPE_UNIQUE_ID: an opaque connection id of at most 128 bytes.</summary>
    UniqueId = 0x05,

    /// <summary>PP2_TYPE_SSL: TLS details of the client connection, with sub-TLVs.</summary>
    Ssl = 0x20,

    /// <summary>PP2_SUBTYPE_SSL_VERSION: the TLS version, US-ASCII (sub-TLV of <see cref="Ssl"/>).</summary>
    SslVersion = 0x21,

    /// <summary>PP2_SUBTYPE_SSL_CN: the client certificate's common name, UTF-8 (sub-TLV of <see cref="Ssl"/>).</summary>
    SslCommonName = 0x22,

    /// <summary>PP2_SUBTYPE_SSL_CIPHER: the cipher name, US-ASCII (sub-TLV of <see cref="Ssl"/>).</summary>
    SslCipher = 0x23,

    /// <summary>PP2_SUBTYPE_SSL_SIG_ALG: the certificate signature algorithm (sub-TLV of <see cref="Ssl"/>).</summary>
    SslSignatureAlgorithm = 0x24,

    /// <summary>PP2_SUBTYPE_SSL_KEY_ALG: the certificate key algorithm (sub-TLV of <see cref="Ssl"/>).</summary>
    SslKeyAlgorithm = 0x25,

    /// <summary>PP2_SUBTYPE_SSL_GROUP: the key exchange group (sub-TLV of <see cref="Ssl"/>).</summary>
    SslGroup = 0x26,

    /// <summary>PP2_SUBTYPE_SSL_SIG_SCHEME: the handshake signature scheme (sub-TLV of <see cref="Ssl"/>).</summary>
    SslSignatureScheme = 0x27,

    /// <summary>PP2_SUBTYPE_SSL_CLIENT_CERT: the client certificate, DER (sub-TLV of <see cref="Ssl"/>).</summary>
    SslClientCertificate = 0x28,

    /// <summary>PP2_TYPE_NETNS: the network namespace name, US-ASCII.</summary>
    NetworkNamespace = 0x30,

    /// <summary>Google Cloud Private Service Connect: the PSC connection id, a big-endian uint64.</summary>
    GcpPscConnectionId = 0xE0,

    /// <summary>AWS: VPC endpoint information; subtype 0x01 is the VPC endpoint id.</summary>
    Aws = 0xEA,

    /// <summary>Azure: Private Link information; subtype 0x01 is the LinkID, a little-endian uint32.</summary>
    Azure = 0xEE,
}
