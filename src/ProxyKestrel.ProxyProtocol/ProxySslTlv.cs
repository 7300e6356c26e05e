using System.Buffers;

namespace ProxyKestrel.ProxyProtocol;

/// <summary>A decoded PP2_TYPE_SSL TLV: the client flags, the verify result and the sub-TLVs, read in place.</summary>
public readonly struct ProxySslTlv
{
    internal ProxySslTlv(ProxySslClient client, uint verify, ReadOnlySequence<byte> subTlvs)
    {
        Client = client;
        Verify = verify;
        SubTlvs = new ProxyTlvs(subTlvs);
    }

    /// <summary>The <c>client</c> bit field.</summary>
    public ProxySslClient Client { get; }

    /// <summary>The <c>verify</c> field: zero when the client presented a certificate that was verified.</summary>
    public uint Verify { get; }

    /// <summary>True when the client connected over TLS (PP2_CLIENT_SSL).</summary>
    public bool IsTls => (Client & ProxySslClient.Ssl) != 0;

    /// <summary>True when the client presented a certificate and it was verified successfully.</summary>
    public bool IsClientCertificateVerified =>
        Verify == 0 && (Client & (ProxySslClient.CertificateOnConnection | ProxySslClient.CertificateOnSession)) != 0;

    /// <summary>The sub-TLVs (VERSION, CN, CIPHER, SIG_ALG, KEY_ALG, GROUP, SIG_SCHEME, CLIENT_CERT, ...).</summary>
    public ProxyTlvs SubTlvs { get; }

    /// <summary>PP2_SUBTYPE_SSL_VERSION, for example <c>TLSv1.3</c>.</summary>
    public bool TryGetVersion(out ReadOnlySequence<byte> value) => SubTlvs.TryGet(ProxyTlvType.SslVersion, out value);

    /// <summary>PP2_SUBTYPE_SSL_CN: the common name of the client certificate.</summary>
    public bool TryGetCommonName(out ReadOnlySequence<byte> value) => SubTlvs.TryGet(ProxyTlvType.SslCommonName, out value);

    /// <summary>PP2_SUBTYPE_SSL_CIPHER, for example <c>ECDHE-RSA-AES128-GCM-SHA256</c>.</summary>
    public bool TryGetCipher(out ReadOnlySequence<byte> value) => SubTlvs.TryGet(ProxyTlvType.SslCipher, out value);

    /// <summary>PP2_SUBTYPE_SSL_SIG_ALG, for example <c>RSA-SHA256</c>.</summary>
    public bool TryGetSignatureAlgorithm(out ReadOnlySequence<byte> value) => SubTlvs.TryGet(ProxyTlvType.SslSignatureAlgorithm, out value);

    /// <summary>PP2_SUBTYPE_SSL_KEY_ALG, for example <c>RSA2048</c>.</summary>
    public bool TryGetKeyAlgorithm(out ReadOnlySequence<byte> value) => SubTlvs.TryGet(ProxyTlvType.SslKeyAlgorithm, out value);

    /// <summary>PP2_SUBTYPE_SSL_GROUP, for example <c>secp256r1</c>.</summary>
    public bool TryGetGroup(out ReadOnlySequence<byte> value) => SubTlvs.TryGet(ProxyTlvType.SslGroup, out value);

    /// <summary>PP2_SUBTYPE_SSL_SIG_SCHEME, for example <c>rsa_pss_rsae_sha256</c>.</summary>
    public bool TryGetSignatureScheme(out ReadOnlySequence<byte> value) => SubTlvs.TryGet(ProxyTlvType.SslSignatureScheme, out value);

    /// <summary>PP2_SUBTYPE_SSL_CLIENT_CERT: the client certificate in DER.</summary>
    public bool TryGetClientCertificate(out ReadOnlySequence<byte> value) => SubTlvs.TryGet(ProxyTlvType.SslClientCertificate, out value);

    internal static bool TryRead(ReadOnlySequence<byte> value, out ProxySslTlv ssl)
    {
        if (value.Length < 5)
        {
            ssl = default;
            return false;
        }

        Span<byte> fixedPart = stackalloc byte[5];
        value.Slice(0, 5).CopyTo(fixedPart);
        uint verify = System.Buffers.Binary.BinaryPrimitives.ReadUInt32BigEndian(fixedPart[1..]);
        ssl = new ProxySslTlv((ProxySslClient)fixedPart[0], verify, value.Slice(5));
        return true;
    }
}
