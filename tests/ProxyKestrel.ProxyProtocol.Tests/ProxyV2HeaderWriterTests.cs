using System.Buffers;
using System.Net;
using ProxyKestrel.ProxyProtocol.Tests.Infrastructure;
using static ProxyKestrel.ProxyProtocol.Tests.Infrastructure.Bytes;

namespace ProxyKestrel.ProxyProtocol.Tests;

public class ProxyV2HeaderWriterTests
{
    private static readonly IPAddress Src4 = IPAddress.Parse("192.168.0.1");
    private static readonly IPAddress Dst4 = IPAddress.Parse("192.168.0.11");

    [Fact]
    public void Proxy_Tcp4WithoutTlvs_IsExactBytes()
    {
        byte[] buffer = new byte[64];
        var writer = ProxyV2HeaderWriter.Proxy(buffer, Src4, 56324, Dst4, 443);
        int n = writer.Complete();
        Assert.Equal(28, n);
        Assert.Equal(V2(0x21, 0x11, Inet4Block), buffer[..n]);
    }

    [Fact]
    public void Proxy_Udp6WithoutTlvs_IsExactBytes()
    {
        byte[] buffer = new byte[64];
        var writer = ProxyV2HeaderWriter.Proxy(buffer, IPAddress.Parse("2001:db8::1"), 1234, IPAddress.Parse("2001:db8::2"), 443, ProxyTransport.Datagram);
        int n = writer.Complete();
        Assert.Equal(V2(0x21, 0x22, Inet6Block), buffer[..n]);
    }

    [Fact]
    public void Proxy_MappedIPv4Pair_WritesInet()
    {
        byte[] buffer = new byte[64];
        var writer = ProxyV2HeaderWriter.Proxy(buffer, Src4.MapToIPv6(), 56324, Dst4.MapToIPv6(), 443);
        Assert.Equal(V2(0x21, 0x11, Inet4Block), buffer[..writer.Complete()]);
    }

    [Fact]
    public void Proxy_MixedFamilies_WritesInet6WithMappedIPv4()
    {
        byte[] buffer = new byte[64];
        var writer = ProxyV2HeaderWriter.Proxy(buffer, Src4, 1, IPAddress.Parse("2001:db8::2"), 2);
        int n = writer.Complete();
        Assert.Equal(52, n);
        Assert.Equal(0x21, buffer[13]);
        Assert.Equal(new byte[] { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xFF, 0xFF, 192, 168, 0, 1 }, buffer[16..32]);
        ProxyHeader h = Parse.Complete(buffer[..n]);
        Assert.Equal(IPAddress.Parse("::ffff:192.168.0.1"), h.GetSourceAddress());
    }

    [Fact]
    public void Local_WithoutTlvs_IsExactBytes()
    {
        byte[] buffer = new byte[16];
        var writer = ProxyV2HeaderWriter.Local(buffer);
        Assert.Equal(16, writer.Complete());
        Assert.Equal(V2(0x20, 0x00), buffer);
    }

    [Fact]
    public void ProxyUnix_IsExactBytesAndParses()
    {
        byte[] buffer = new byte[300];
        var writer = ProxyV2HeaderWriter.ProxyUnix(buffer, "/run/a.sock"u8, "/run/b.sock"u8, ProxyTransport.Datagram);
        int n = writer.Complete();
        Assert.Equal(V2(0x21, 0x32, UnixBlock("/run/a.sock", "/run/b.sock")), buffer[..n]);
        ProxyHeader h = Parse.Complete(buffer[..n]);
        Assert.Equal("/run/a.sock", Text(h.UnixSourcePath));
        Assert.Equal("/run/b.sock", Text(h.UnixDestinationPath));
    }

    [Fact]
    public void ProxyUnix_UnspecifiedTransport_ThrowsAsSpecForbidsEmitting0x30()
    {
        byte[] buffer = new byte[300];
        Assert.Throws<ArgumentOutOfRangeException>(() => ProxyV2HeaderWriter.ProxyUnix(buffer, "/a"u8, "/b"u8, ProxyTransport.Unspecified));
    }

    [Fact]
    public void ProxyUnix_PathTooLong_Throws()
    {
        byte[] buffer = new byte[300];
        Assert.Throws<ArgumentException>(() => ProxyV2HeaderWriter.ProxyUnix(buffer, new byte[109], "/b"u8));
    }

    [Fact]
    public void AddTlvs_AreWrittenInOrderAsExactBytes()
    {
        byte[] buffer = new byte[256];
        var writer = ProxyV2HeaderWriter.Proxy(buffer, Src4, 56324, Dst4, 443);
        writer.AddAlpn("h2"u8);
        writer.AddAuthority("example.com");
        writer.AddUniqueId([1, 2, 3]);
        writer.AddNetworkNamespace("ns"u8);
        writer.AddNoop(2);
        writer.AddTlv(0xE5, [9]);
        writer.AddAwsVpcEndpointId("vpce-08d2bf15fac5001c9"u8);
        writer.AddAzurePrivateLinkId(0x12345678);
        writer.AddGcpPscConnectionId(0x0102030405060708);
        int n = writer.Complete();

        byte[] expected = V2(0x21, 0x11, Concat(
            Inet4Block,
            Tlv(0x01, Ascii("h2")),
            Tlv(0x02, Ascii("example.com")),
            Tlv(0x05, 1, 2, 3),
            Tlv(0x30, Ascii("ns")),
            Tlv(0x04, 0, 0),
            Tlv(0xE5, 9),
            Tlv(0xEA, Concat([0x01], Ascii("vpce-08d2bf15fac5001c9"))),
            Tlv(0xEE, 0x01, 0x78, 0x56, 0x34, 0x12),
            Tlv(0xE0, 1, 2, 3, 4, 5, 6, 7, 8)));
        Assert.Equal(expected, buffer[..n]);

        ProxyHeader h = Parse.Complete(buffer[..n]);
        Assert.True(h.TryGetAwsVpcEndpointId(out ReadOnlySequence<byte> vpce));
        Assert.Equal("vpce-08d2bf15fac5001c9", Text(vpce));
        Assert.True(h.TryGetAzurePrivateLinkId(out uint link));
        Assert.Equal(0x12345678u, link);
        Assert.True(h.TryGetGcpPscConnectionId(out ulong psc));
        Assert.Equal(0x0102030405060708ul, psc);
    }

    [Fact]
    public void AddCrc32C_ChecksumComputedAndVerifiedByParser()
    {
        byte[] buffer = new byte[256];
        var writer = ProxyV2HeaderWriter.Proxy(buffer, Src4, 56324, Dst4, 443);
        writer.AddAlpn("h2"u8);
        writer.AddCrc32C();
        writer.AddAuthority("example.com"u8);
        int n = writer.Complete();

        int crcOffset = 16 + 12 + 5 + 3;
        byte[] header = buffer[..n];
        Assert.Equal(WithCrc(header, crcOffset), header);
        ProxyHeader h = Parse.Complete(header);
        Assert.True(h.TryGetCrc32C(out uint crc));
        Assert.Equal(ReferenceCrc32C(Concat(header[..crcOffset], [0, 0, 0, 0], header[(crcOffset + 4)..])), crc);

        header[^1] ^= 0x20;
        Parse.Invalid(header, ProxyParseError.V2Crc32CMismatch);
    }

    [Fact]
    public void AddCrc32C_Twice_Throws()
    {
        byte[] buffer = new byte[256];
        var writer = ProxyV2HeaderWriter.Local(buffer);
        writer.AddCrc32C();
        bool threw = false;
        try
        {
            writer.AddCrc32C();
        }
        catch (InvalidOperationException)
        {
            threw = true;
        }

        Assert.True(threw);
    }

    [Fact]
    public void BeginSsl_WithSubTlvs_NestsAndParses()
    {
        byte[] buffer = new byte[256];
        var writer = ProxyV2HeaderWriter.Proxy(buffer, Src4, 56324, Dst4, 443);
        writer.BeginSsl(ProxySslClient.Ssl | ProxySslClient.CertificateOnConnection, 0);
        writer.AddSslSubTlv(ProxyTlvType.SslVersion, "TLSv1.3");
        writer.AddSslSubTlv(ProxyTlvType.SslCommonName, "client.example"u8);
        writer.EndSsl();
        writer.AddAlpn("h2"u8);
        writer.AddCrc32C();
        int n = writer.Complete();

        byte[] ssl = Concat([0x03, 0, 0, 0, 0], Tlv(0x21, Ascii("TLSv1.3")), Tlv(0x22, Ascii("client.example")));
        byte[] expectedUnsummed = V2(0x21, 0x11, Concat(Inet4Block, Tlv(0x20, ssl), Tlv(0x01, Ascii("h2")), Tlv(0x03, 0, 0, 0, 0)));
        Assert.Equal(WithCrc(expectedUnsummed, expectedUnsummed.Length - 4), buffer[..n]);

        ProxyHeader h = Parse.Complete(buffer[..n]);
        Assert.True(h.TryGetSsl(out ProxySslTlv parsed));
        Assert.True(parsed.IsClientCertificateVerified);
        Assert.True(parsed.TryGetVersion(out ReadOnlySequence<byte> version));
        Assert.Equal("TLSv1.3", Text(version));
        Assert.Equal(3, h.Tlvs.Count());
    }

    [Fact]
    public void EmptySsl_IsFiveBytesValue()
    {
        byte[] buffer = new byte[64];
        var writer = ProxyV2HeaderWriter.Local(buffer);
        writer.BeginSsl(ProxySslClient.None, 0xDEADBEEF);
        writer.EndSsl();
        int n = writer.Complete();
        Assert.Equal(V2(0x20, 0x00, Tlv(0x20, 0x00, 0xDE, 0xAD, 0xBE, 0xEF)), buffer[..n]);
    }

    [Fact]
    public void Proxy_BufferWriter_AdvancesExactlyOnComplete()
    {
        var output = new ArrayBufferWriter<byte>();
        output.Write("ab"u8);
        var writer = ProxyV2HeaderWriter.Proxy(output, 128, Src4, 56324, Dst4, 443);
        writer.AddAlpn("h2"u8);
        Assert.Equal(2, output.WrittenCount);
        int n = writer.Complete();
        Assert.Equal(33, n);
        Assert.Equal(2 + 33, output.WrittenCount);
        Assert.Equal(Concat(Ascii("ab"), V2(0x21, 0x11, Concat(Inet4Block, Tlv(0x01, Ascii("h2"))))), output.WrittenSpan.ToArray());
    }

    [Fact]
    public void Local_BufferWriter_AdvancesExactlyOnComplete()
    {
        var output = new ArrayBufferWriter<byte>();
        var writer = ProxyV2HeaderWriter.Local(output, 0);
        Assert.Equal(16, writer.Complete());
        Assert.Equal(V2(0x20, 0x00), output.WrittenSpan.ToArray());
    }

    private static void AssertThrows<T>(Action action)
        where T : Exception => Assert.Throws<T>(action);

    [Fact]
    public void AddSslSubTlv_WithoutBeginSsl_Throws()
    {
        AssertThrows<InvalidOperationException>(() =>
        {
            var writer = ProxyV2HeaderWriter.Local(new byte[64]);
            writer.AddSslSubTlv(ProxyTlvType.SslVersion, "TLSv1.3"u8);
        });
        AssertThrows<InvalidOperationException>(() =>
        {
            var writer = ProxyV2HeaderWriter.Local(new byte[64]);
            writer.AddSslSubTlv(ProxyTlvType.SslVersion, "TLSv1.3");
        });
    }

    [Fact]
    public void EndSsl_WithoutBeginSsl_Throws() =>
        AssertThrows<InvalidOperationException>(() =>
        {
            var writer = ProxyV2HeaderWriter.Local(new byte[64]);
            writer.EndSsl();
        });

    [Fact]
    public void BeginSsl_Twice_Throws() =>
        AssertThrows<InvalidOperationException>(() =>
        {
            var writer = ProxyV2HeaderWriter.Local(new byte[64]);
            writer.BeginSsl(ProxySslClient.Ssl, 0);
            writer.BeginSsl(ProxySslClient.Ssl, 0);
        });

    [Fact]
    public void AddCrc32C_WhileSslOpen_Throws() =>
        AssertThrows<InvalidOperationException>(() =>
        {
            var writer = ProxyV2HeaderWriter.Local(new byte[64]);
            writer.BeginSsl(ProxySslClient.Ssl, 0);
            writer.AddCrc32C();
        });

    [Fact]
    public void AddTlv_WhileSslOpen_Throws() =>
        AssertThrows<InvalidOperationException>(() =>
        {
            var writer = ProxyV2HeaderWriter.Local(new byte[64]);
            writer.BeginSsl(ProxySslClient.Ssl, 0);
            writer.AddAlpn("h2"u8);
        });

    [Fact]
    public void AddAuthority_WhileSslOpen_Throws() =>
        AssertThrows<InvalidOperationException>(() =>
        {
            var writer = ProxyV2HeaderWriter.Local(new byte[64]);
            writer.BeginSsl(ProxySslClient.Ssl, 0);
            writer.AddAuthority("example.com");
        });

    [Fact]
    public void Complete_WithOpenSsl_Throws() =>
        AssertThrows<InvalidOperationException>(() =>
        {
            var writer = ProxyV2HeaderWriter.Local(new byte[64]);
            writer.BeginSsl(ProxySslClient.Ssl, 0);
            writer.Complete();
        });

    [Fact]
    public void Complete_Twice_Throws() =>
        AssertThrows<InvalidOperationException>(() =>
        {
            var writer = ProxyV2HeaderWriter.Local(new byte[64]);
            writer.Complete();
            writer.Complete();
        });

    [Fact]
    public void AddTlv_AfterComplete_Throws() =>
        AssertThrows<InvalidOperationException>(() =>
        {
            var writer = ProxyV2HeaderWriter.Local(new byte[64]);
            writer.Complete();
            writer.AddAlpn("h2"u8);
        });

    [Fact]
    public void AddUniqueId_129Bytes_Throws() =>
        AssertThrows<ArgumentException>(() =>
        {
            var writer = ProxyV2HeaderWriter.Local(new byte[512]);
            writer.AddUniqueId(new byte[129]);
        });

    [Fact]
    public void AddUniqueId_128Bytes_IsAccepted()
    {
        byte[] buffer = new byte[512];
        var writer = ProxyV2HeaderWriter.Local(buffer);
        writer.AddUniqueId(new byte[128]);
        int n = writer.Complete();
        Assert.True(Parse.Complete(buffer[..n]).TryGetUniqueId(out ReadOnlySequence<byte> id));
        Assert.Equal(128, id.Length);
    }

    [Fact]
    public void Proxy_BufferTooSmall_Throws()
    {
        AssertThrows<ArgumentException>(() => ProxyV2HeaderWriter.Proxy(new byte[27], Src4, 1, Dst4, 2));
        AssertThrows<ArgumentException>(() => ProxyV2HeaderWriter.Local(new byte[15]));
        AssertThrows<ArgumentException>(() =>
        {
            var writer = ProxyV2HeaderWriter.Proxy(new byte[30], Src4, 1, Dst4, 2);
            writer.AddAlpn("h2"u8);
        });
        AssertThrows<ArgumentException>(() =>
        {
            var writer = ProxyV2HeaderWriter.Proxy(new byte[30], Src4, 1, Dst4, 2);
            writer.AddAuthority("example.com");
        });
    }

    [Fact]
    public void AddAwsVpcEndpointId_ValueOver65534Bytes_Throws() =>
        AssertThrows<ArgumentException>(() =>
        {
            var writer = ProxyV2HeaderWriter.Local(new byte[70000]);
            writer.AddAwsVpcEndpointId(new byte[65535]);
        });

    [Fact]
    public void AddTlv_ValueOver65535Bytes_Throws() =>
        AssertThrows<ArgumentException>(() =>
        {
            var writer = ProxyV2HeaderWriter.Local(new byte[70000]);
            writer.AddTlv(0xE1, new byte[65536]);
        });

    [Fact]
    public void Proxy_UnspecifiedTransport_Throws() =>
        AssertThrows<ArgumentOutOfRangeException>(() => ProxyV2HeaderWriter.Proxy(new byte[64], Src4, 1, Dst4, 2, ProxyTransport.Unspecified));

    [Fact]
    public void Proxy_PortOutOfRange_Throws() =>
        AssertThrows<ArgumentOutOfRangeException>(() => ProxyV2HeaderWriter.Proxy(new byte[64], Src4, 65536, Dst4, 2));

    [Fact]
    public void Length_TracksBytesWritten()
    {
        var writer = ProxyV2HeaderWriter.Proxy(new byte[64], Src4, 1, Dst4, 2);
        Assert.Equal(28, writer.Length);
        writer.AddNoop(0);
        Assert.Equal(31, writer.Length);
    }
}
