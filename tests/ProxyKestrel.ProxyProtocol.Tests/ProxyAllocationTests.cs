using System.Buffers;
using System.Net;
using static ProxyKestrel.ProxyProtocol.Tests.Infrastructure.Bytes;

namespace ProxyKestrel.ProxyProtocol.Tests;

/// <summary>Allocation assertions (bytes allocated on the current thread), not timings.</summary>
public class ProxyAllocationTests
{
    private const int Loops = 1000;

    private static long AllocatedBy(Action action)
    {
        for (int i = 0; i < 200; i++)
        {
            action();
        }

        long before = GC.GetAllocatedBytesForCurrentThread();
        for (int i = 0; i < Loops; i++)
        {
            action();
        }

        return GC.GetAllocatedBytesForCurrentThread() - before;
    }

    private static readonly ReadOnlySequence<byte> V1Tcp4 = new(Ascii("PROXY TCP4 192.168.0.1 192.168.0.11 56324 443\r\nGET / HTTP/1.1\r\n"));
    private static readonly ReadOnlySequence<byte> V1Tcp6 = new(Ascii("PROXY TCP6 2001:db8::1 ::ffff:1.2.3.4 56324 443\r\n"));
    private static readonly ReadOnlySequence<byte> V2Tcp4 = new(Concat(V2(0x21, 0x11, Inet4Block), Ascii("GET")));
    private static readonly ReadOnlySequence<byte> V2Tlvs = new(WithCrc(
        V2(0x21, 0x21, Concat(Inet6Block, Tlv(0x01, Ascii("h2")), Tlv(0x20, Concat([1, 0, 0, 0, 0], Tlv(0x21, Ascii("TLSv1.3")))), Tlv(0x03, 0, 0, 0, 0))),
        16 + 36 + 5 + 3 + 15 + 3));

    private static void ParseOnce(ReadOnlySequence<byte> input)
    {
        if (ProxyHeaderParser.Parse(input, out ProxyHeader header, out _) != ProxyParseStatus.Complete || header.Length == 0)
        {
            throw new InvalidOperationException("not complete");
        }
    }

    [Fact]
    public void Parse_V1Tcp4_AllocatesNothing() => Assert.Equal(0, AllocatedBy(() => ParseOnce(V1Tcp4)));

    [Fact]
    public void Parse_V1Tcp6_AllocatesNothing() => Assert.Equal(0, AllocatedBy(() => ParseOnce(V1Tcp6)));

    [Fact]
    public void Parse_V2Tcp4_AllocatesNothing() => Assert.Equal(0, AllocatedBy(() => ParseOnce(V2Tcp4)));

    [Fact]
    public void Parse_V2WithTlvsAndReaders_AllocatesNothing() =>
        Assert.Equal(0, AllocatedBy(() =>
        {
            ProxyHeaderParser.Parse(V2Tlvs, out ProxyHeader header, out _);
            if (!header.TryGetAlpn(out _) || !header.TryGetSsl(out ProxySslTlv ssl) || !ssl.TryGetVersion(out _) || !header.TryGetCrc32C(out _))
            {
                throw new InvalidOperationException("missing TLV");
            }

            foreach (ProxyTlv tlv in header.Tlvs)
            {
                _ = tlv.IsCustom;
            }
        }));

    private static readonly IPAddress Src = IPAddress.Parse("192.168.0.1");
    private static readonly IPAddress Dst = IPAddress.Parse("192.168.0.11");
    private static readonly IPAddress Src6 = IPAddress.Parse("2001:db8::1");
    private static readonly byte[] Buffer = new byte[256];

    [Fact]
    public void TryWriteV1_Tcp4_AllocatesNothing() =>
        Assert.Equal(0, AllocatedBy(() =>
        {
            Span<byte> buffer = stackalloc byte[ProxyHeaderWriter.V1MaxLength];
            ProxyHeaderWriter.TryWriteV1(buffer, Src, 56324, Dst, 443, out _);
        }));

    [Fact]
    public void TryWriteV1_Tcp6_AllocatesNothing() =>
        Assert.Equal(0, AllocatedBy(() => ProxyHeaderWriter.TryWriteV1(Buffer, Src6, 56324, Dst, 443, out _)));

    [Fact]
    public void V2Writer_Tcp4WithTlvs_AllocatesNothing() =>
        Assert.Equal(0, AllocatedBy(() =>
        {
            Span<byte> buffer = stackalloc byte[256];
            var writer = ProxyV2HeaderWriter.Proxy(buffer, Src, 56324, Dst, 443);
            writer.AddAlpn("h2"u8);
            writer.AddAuthority("example.com");
            writer.BeginSsl(ProxySslClient.Ssl, 0);
            writer.AddSslSubTlv(ProxyTlvType.SslVersion, "TLSv1.3");
            writer.EndSsl();
            writer.AddCrc32C();
            writer.Complete();
        }));

    [Fact]
    public void V2Writer_Tcp4IntoArray_AllocatesNothing() =>
        Assert.Equal(0, AllocatedBy(() => ProxyV2HeaderWriter.Proxy(Buffer, Src, 56324, Dst, 443).Complete()));
}
