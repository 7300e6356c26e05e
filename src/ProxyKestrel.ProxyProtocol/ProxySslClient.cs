namespace ProxyKestrel.ProxyProtocol;

/// <summary>The <c>client</c> bit field of a PP2_TYPE_SSL TLV.</summary>
[Flags]
public enum ProxySslClient : byte
{
    /// <summary>No flag set.</summary>
    None = 0,

    /// <summary>PP2_CLIENT_SSL: the client connected over TLS.</summary>
    Ssl = 0x01,

    /// <summary>PP2_CLIENT_CERT_CONN: the client presented a certificate on this connection.</summary>
    CertificateOnConnection = 0x02,

    /// <summary>PP2_CLIENT_CERT_SESS: the client presented a certificate at least once in this TLS session.</summary>
    CertificateOnSession = 0x04,
}
