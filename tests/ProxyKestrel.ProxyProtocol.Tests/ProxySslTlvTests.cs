using System.Buffers;
using ProxyKestrel.ProxyProtocol.Tests.Infrastructure;
using static ProxyKestrel.ProxyProtocol.Tests.Infrastructure.Bytes;

namespace ProxyKestrel.ProxyProtocol.Tests;

public class ProxySslTlvTests
{
    private static readonly byte[] Certificate = [0x30, 0x82, 0x01, 0x0A, 0x02, 0x82, 0x01, 0x01, 0x00];

    private static byte[] SslValue(byte client, uint verify, params byte[][] subTlvs) =>
        Concat([client, (byte)(verify >> 24), (byte)(verify >> 16), (byte)(verify >> 8), (byte)verify], Concat(subTlvs));

    private static ProxyHeader ParseSsl(byte[] sslValue, params byte[][] more) =>
        Parse.Complete(V2(0x21, 0x11, Concat(Inet4Block, Tlv(0x20, sslValue), Concat(more))));

    [Fact]
    public void TryGetSsl_HandWrittenWithEverySubTlv_ReturnsEach()
    {
        byte[] value = SslValue(
            0x07,
            0,
            Tlv(0x21, Ascii("TLSv1.3")),
            Tlv(0x22, System.Text.Encoding.UTF8.GetBytes("client.example")),
            Tlv(0x23, Ascii("ECDHE-RSA-AES128-GCM-SHA256")),
            Tlv(0x24, Ascii("RSA-SHA256")),
            Tlv(0x25, Ascii("RSA2048")),
            Tlv(0x26, Ascii("secp256r1")),
            Tlv(0x27, Ascii("rsa_pss_rsae_sha256")),
            Tlv(0x28, Certificate));
        ProxyHeader h = ParseSsl(value, Tlv(0x01, Ascii("h2")));

        Assert.True(h.TryGetSsl(out ProxySslTlv ssl));
        Assert.Equal(ProxySslClient.Ssl | ProxySslClient.CertificateOnConnection | ProxySslClient.CertificateOnSession, ssl.Client);
        Assert.Equal(0u, ssl.Verify);
        Assert.True(ssl.IsTls);
        Assert.True(ssl.IsClientCertificateVerified);
        Assert.Equal(8, ssl.SubTlvs.Count());

        Assert.True(ssl.TryGetVersion(out ReadOnlySequence<byte> v));
        Assert.Equal("TLSv1.3", Text(v));
        Assert.True(ssl.TryGetCommonName(out v));
        Assert.Equal("client.example", Text(v));
        Assert.True(ssl.TryGetCipher(out v));
        Assert.Equal("ECDHE-RSA-AES128-GCM-SHA256", Text(v));
        Assert.True(ssl.TryGetSignatureAlgorithm(out v));
        Assert.Equal("RSA-SHA256", Text(v));
        Assert.True(ssl.TryGetKeyAlgorithm(out v));
        Assert.Equal("RSA2048", Text(v));
        Assert.True(ssl.TryGetGroup(out v));
        Assert.Equal("secp256r1", Text(v));
        Assert.True(ssl.TryGetSignatureScheme(out v));
        Assert.Equal("rsa_pss_rsae_sha256", Text(v));
        Assert.True(ssl.TryGetClientCertificate(out v));
        Assert.Equal(Certificate, v.ToArray());

        // The TLV after the SSL TLV is still found at top level.
        Assert.True(h.TryGetAlpn(out v));
        Assert.Equal("h2", Text(v));
    }

    [Fact]
    public void TryGetSsl_SslOnlyWithFailedVerify_ReportsFlags()
    {
        ProxyHeader h = ParseSsl(SslValue(0x01, 0x00000014, Tlv(0x21, Ascii("TLSv1.2"))));
        Assert.True(h.TryGetSsl(out ProxySslTlv ssl));
        Assert.Equal(ProxySslClient.Ssl, ssl.Client);
        Assert.Equal(20u, ssl.Verify);
        Assert.True(ssl.IsTls);
        Assert.False(ssl.IsClientCertificateVerified);
        Assert.False(ssl.TryGetCommonName(out _));
        Assert.False(ssl.TryGetClientCertificate(out _));
    }

    [Fact]
    public void TryGetSsl_CertificateButVerifyNonZero_IsNotVerified()
    {
        ProxyHeader h = ParseSsl(SslValue(0x03, 1));
        Assert.True(h.TryGetSsl(out ProxySslTlv ssl));
        Assert.False(ssl.IsClientCertificateVerified);
    }

    [Fact]
    public void TryGetSsl_NoCertificateAndVerifyZero_IsNotVerified()
    {
        ProxyHeader h = ParseSsl(SslValue(0x01, 0));
        Assert.True(h.TryGetSsl(out ProxySslTlv ssl));
        Assert.False(ssl.IsClientCertificateVerified);
        Assert.True(ssl.SubTlvs.IsEmpty);
    }

    [Fact]
    public void TryGetSsl_CertOnSessionOnly_IsVerified()
    {
        ProxyHeader h = ParseSsl(SslValue(0x05, 0));
        Assert.True(h.TryGetSsl(out ProxySslTlv ssl));
        Assert.Equal(ProxySslClient.Ssl | ProxySslClient.CertificateOnSession, ssl.Client);
        Assert.True(ssl.IsClientCertificateVerified);
    }

    [Fact]
    public void TryGetSsl_VerifyIsBigEndian()
    {
        ProxyHeader h = ParseSsl([0x00, 0x12, 0x34, 0x56, 0x78]);
        Assert.True(h.TryGetSsl(out ProxySslTlv ssl));
        Assert.Equal(0x12345678u, ssl.Verify);
        Assert.False(ssl.IsTls);
    }

    [Fact]
    public void TryGetSsl_SubTlvsAreNotTopLevelTlvs()
    {
        ProxyHeader h = ParseSsl(SslValue(0x01, 0, Tlv(0x21, Ascii("TLSv1.3"))));
        Assert.Equal(1, h.Tlvs.Count());
        Assert.False(h.Tlvs.TryGet(ProxyTlvType.SslVersion, out _));
    }

    [Fact]
    public void TryGetSsl_UnknownSubTlv_IsExposedInOrder()
    {
        ProxyHeader h = ParseSsl(SslValue(0x01, 0, Tlv(0x29, 1, 2), Tlv(0x21, Ascii("TLSv1.3"))));
        Assert.True(h.TryGetSsl(out ProxySslTlv ssl));
        var types = new List<byte>();
        foreach (ProxyTlv sub in ssl.SubTlvs)
        {
            types.Add(sub.Type);
        }

        Assert.Equal(new byte[] { 0x29, 0x21 }, types);
    }
}
