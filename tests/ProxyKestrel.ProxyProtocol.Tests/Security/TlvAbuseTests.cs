using System.Buffers;

namespace ProxyKestrel.ProxyProtocol.Tests.Security;

/// <summary>
/// docs/security.md, "TLV abuse": the most TLVs a header can hold are walked once, without allocating, and only when
/// the size cap allows; SSL sub-TLVs are framed one level deep and a nested SSL sub-TLV stays opaque bytes (no
/// recursion an attacker could drive).
/// </summary>
public class TlvAbuseTests
{
    private static readonly byte[] Signature = [0x0D, 0x0A, 0x0D, 0x0A, 0x00, 0x0D, 0x0A, 0x51, 0x55, 0x49, 0x54, 0x0A];

    /// <summary>A PROXY TCP4 header whose TLV region is <paramref name="tlvs"/>.</summary>
    private static byte[] Tcp4(byte[] tlvs)
    {
        int length = 12 + tlvs.Length;
        return [.. Signature, 0x21, 0x11, (byte)(length >> 8), (byte)length, 192, 0, 2, 1, 198, 51, 100, 1, 0x1F, 0x90, 0x01, 0xBB, .. tlvs];
    }

    /// <summary>65,523 bytes of empty NOOP TLVs: 21,841 TLVs, the largest v2 header there is (16 + 65,535 bytes).</summary>
    private static byte[] MaximalHeader()
    {
        byte[] tlvs = new byte[65535 - 12];
        for (int i = 0; i < tlvs.Length; i += 3)
        {
            tlvs[i] = (byte)ProxyTlvType.Noop;
        }

        return Tcp4(tlvs);
    }

    private static int Walk(in ReadOnlySequence<byte> sequence, ProxyHeaderParserOptions options)
    {
        if (ProxyHeaderParser.Parse(sequence, options, out ProxyHeader header, out _) != ProxyParseStatus.Complete || header.TryGetAuthority(out _))
        {
            return -1;
        }

        int walked = 0;
        foreach (ProxyTlv tlv in header.Tlvs)
        {
            walked += tlv.Type == (byte)ProxyTlvType.Noop ? 1 : 0;
        }

        return walked;
    }

    [Fact]
    public void Parse_V2MaximalHeaderOfEmptyTlvs_AcceptedOnlyWhenAllowedAndWalkedWithoutAllocating()
    {
        byte[] header = MaximalHeader();
        var sequence = new ReadOnlySequence<byte>(header);
        var largest = new ProxyHeaderParserOptions { MaxHeaderSize = ProxyHeaderParserOptions.MaxMaxHeaderSize };

        // Default cap (4096): refused from the fixed part alone.
        Assert.Equal(ProxyParseStatus.Invalid, ProxyHeaderParser.Parse(sequence.Slice(0, 16), ProxyHeaderParserOptions.Default, out _, out ProxyParseError error));
        Assert.Equal(ProxyParseError.V2HeaderTooLarge, error);

        Assert.Equal(ProxyParseStatus.Complete, ProxyHeaderParser.Parse(sequence, largest, out ProxyHeader parsed, out _));
        Assert.Equal(65551, parsed.Length);
        Assert.Equal(21841, parsed.Tlvs.Count());

        // Warm up (JIT, tiering), then measure: walking 21,841 TLVs allocates nothing.
        for (int i = 0; i < 20; i++)
        {
            Assert.Equal(21841, Walk(sequence, largest));
        }

        long before = GC.GetAllocatedBytesForCurrentThread();
        int walked = 0;
        for (int i = 0; i < 10; i++)
        {
            walked += Walk(sequence, largest);
        }

        Assert.Equal(0, GC.GetAllocatedBytesForCurrentThread() - before);
        Assert.Equal(218410, walked);
    }

    [Fact]
    public void Parse_V2SslSubTlvNestingAnotherSsl_InnerBytesStayOpaque()
    {
        // The inner "SSL" claims a 0xFFFF-byte sub-TLV that is not there: framing is checked one level deep only, and
        // no reader ever descends into it.
        byte[] inner = [0x01, 0, 0, 0, 0, (byte)ProxyTlvType.SslCommonName, 0xFF, 0xFF, 0x41];
        byte[] ssl = [0x01, 0, 0, 0, 0, (byte)ProxyTlvType.Ssl, 0, (byte)inner.Length, .. inner];
        byte[] header = Tcp4([(byte)ProxyTlvType.Ssl, 0, (byte)ssl.Length, .. ssl]);

        Assert.Equal(ProxyParseStatus.Complete, ProxyHeaderParser.Parse(new ReadOnlySequence<byte>(header), out ProxyHeader parsed, out _));
        Assert.True(parsed.TryGetSsl(out ProxySslTlv outer));
        Assert.False(outer.TryGetCommonName(out _));
        Assert.True(outer.SubTlvs.TryGet(ProxyTlvType.Ssl, out ReadOnlySequence<byte> opaque));
        Assert.Equal(inner, opaque.ToArray());
        Assert.Equal(1, outer.SubTlvs.Count());
    }

    [Fact]
    public void Parse_V2TopLevelTlvLengthLies_InvalidWithoutReadingPastTheHeader()
    {
        // An AUTHORITY TLV claiming 0xFFFF bytes inside a header that holds 4: refused, whatever follows the header.
        byte[] header = Tcp4([(byte)ProxyTlvType.Authority, 0xFF, 0xFF, 0x61]);
        byte[] withPayload = [.. header, .. new byte[70000]];

        Assert.Equal(ProxyParseStatus.Invalid, ProxyHeaderParser.Parse(new ReadOnlySequence<byte>(withPayload), out _, out ProxyParseError error));
        Assert.Equal(ProxyParseError.V2TlvTruncated, error);
    }
}
