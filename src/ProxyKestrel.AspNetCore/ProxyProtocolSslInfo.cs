using ProxyKestrel.ProxyProtocol;

namespace ProxyKestrel.AspNetCore;

/// <summary>The PP2_TYPE_SSL TLV: how the client connected to the proxy.</summary>
public sealed record ProxyProtocolSslInfo
{
    /// <summary>The client flags (TLS used, certificate presented on the connection or session).</summary>
    public ProxySslClient Client { get; init; }

    /// <summary>Zero when the client's certificate was verified.</summary>
    public uint Verify { get; init; }

    /// <summary>PP2_SUBTYPE_SSL_VERSION, e.g. <c>TLSv1.3</c>.</summary>
    public string? Version { get; init; }

    /// <summary>PP2_SUBTYPE_SSL_CN: the client certificate's common name.</summary>
    public string? CommonName { get; init; }

    /// <summary>PP2_SUBTYPE_SSL_CIPHER.</summary>
    public string? Cipher { get; init; }

    /// <summary>PP2_SUBTYPE_SSL_SIG_ALG.</summary>
    public string? SignatureAlgorithm { get; init; }

    /// <summary>PP2_SUBTYPE_SSL_KEY_ALG.</summary>
    public string? KeyAlgorithm { get; init; }

    /// <summary>PP2_SUBTYPE_SSL_GROUP.</summary>
    public string? Group { get; init; }

    /// <summary>PP2_SUBTYPE_SSL_SIG_SCHEME.</summary>
    public string? SignatureScheme { get; init; }

    /// <summary>PP2_SUBTYPE_SSL_CLIENT_CERT (DER).</summary>
    public ReadOnlyMemory<byte>? ClientCertificate { get; init; }
}
