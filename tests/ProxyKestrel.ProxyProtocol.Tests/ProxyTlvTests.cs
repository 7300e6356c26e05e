using System.Buffers;
using System.Buffers.Binary;
using ProxyKestrel.ProxyProtocol.Tests.Infrastructure;
using ProxyKestrel.Testing;
using static ProxyKestrel.ProxyProtocol.Tests.Infrastructure.Bytes;

namespace ProxyKestrel.ProxyProtocol.Tests;

public class ProxyTlvTests
{
    private static ProxyHeader ParseWithTlvs(params byte[][] tlvs) =>
        Parse.Complete(V2(0x21, 0x11, Concat(Inet4Block, Concat(tlvs))));

    [Fact]
    public void TryGetAlpn_HandWrittenTlv_ReturnsValue()
    {
        ProxyHeader h = ParseWithTlvs(Tlv(0x01, Ascii("h2")));
        Assert.True(h.TryGetAlpn(out ReadOnlySequence<byte> alpn));
        Assert.Equal("h2", Text(alpn));
    }

    [Fact]
    public void TryGetAuthority_HandWrittenUtf8Tlv_ReturnsValue()
    {
        byte[] host = System.Text.Encoding.UTF8.GetBytes("bücher.example");
        ProxyHeader h = ParseWithTlvs(Tlv(0x02, host));
        Assert.True(h.TryGetAuthority(out ReadOnlySequence<byte> value));
        Assert.Equal("bücher.example", Text(value));
    }

    [Fact]
    public void TryGetUniqueId_HandWrittenTlv_ReturnsValue()
    {
        ProxyHeader h = ParseWithTlvs(Tlv(0x05, 0xDE, 0xAD, 0xBE, 0xEF));
        Assert.True(h.TryGetUniqueId(out ReadOnlySequence<byte> value));
        Assert.Equal(new byte[] { 0xDE, 0xAD, 0xBE, 0xEF }, value.ToArray());
    }

    [Fact]
    public void TryGetNetworkNamespace_HandWrittenTlv_ReturnsValue()
    {
        ProxyHeader h = ParseWithTlvs(Tlv(0x30, Ascii("blue")));
        Assert.True(h.TryGetNetworkNamespace(out ReadOnlySequence<byte> value));
        Assert.Equal("blue", Text(value));
    }

    [Fact]
    public void TryGetters_AbsentTlvs_ReturnFalse()
    {
        ProxyHeader h = ParseWithTlvs(Tlv(0x04, 1, 2, 3));
        Assert.False(h.TryGetAlpn(out _));
        Assert.False(h.TryGetAuthority(out _));
        Assert.False(h.TryGetUniqueId(out _));
        Assert.False(h.TryGetNetworkNamespace(out _));
        Assert.False(h.TryGetCrc32C(out uint crc));
        Assert.Equal(0u, crc);
        Assert.False(h.TryGetSsl(out _));
        Assert.False(h.TryGetAwsVpcEndpointId(out _));
        Assert.False(h.TryGetAzurePrivateLinkId(out uint link));
        Assert.Equal(0u, link);
        Assert.False(h.TryGetGcpPscConnectionId(out ulong psc));
        Assert.Equal(0ul, psc);
    }

    [Fact]
    public void TryGetters_V1Header_ReturnFalseAndTlvsEmpty()
    {
        ProxyHeader h = Parse.Complete("PROXY TCP4 1.2.3.4 5.6.7.8 1 2\r\n");
        Assert.True(h.Tlvs.IsEmpty);
        Assert.False(h.TryGetAlpn(out _));
        Assert.False(h.TryGetSsl(out _));
    }

    [Fact]
    public void Tlvs_NoopIsExposedRawAndIgnoredByReaders()
    {
        ProxyHeader h = ParseWithTlvs(Tlv(0x04, 0, 0, 0), Tlv(0x01, Ascii("h2")));
        Assert.Equal(2, h.Tlvs.Count());
        Assert.True(h.TryGetAlpn(out ReadOnlySequence<byte> alpn));
        Assert.Equal("h2", Text(alpn));
    }

    [Fact]
    public void Tlvs_EnumerationIsInWireOrderWithRawValues()
    {
        byte[][] tlvs = [Tlv(0x02, Ascii("a.example")), Tlv(0x04), Tlv(0xE5, 9, 8), Tlv(0xF3, 7), Tlv(0x01, Ascii("http/1.1"))];
        ProxyHeader h = ParseWithTlvs(tlvs);
        var seen = new List<(byte, string)>();
        foreach (ProxyTlv tlv in h.Tlvs)
        {
            seen.Add((tlv.Type, Convert.ToHexString(tlv.Value.ToArray())));
        }

        Assert.Equal(
            [(0x02, Convert.ToHexString(Ascii("a.example"))), (0x04, ""), (0xE5, "0908"), (0xF3, "07"), (0x01, Convert.ToHexString(Ascii("http/1.1")))],
            seen);
        Assert.Equal(Concat(tlvs), h.Tlvs.RawBytes.ToArray());
    }

    [Fact]
    public void Tlvs_TryGetFindsFirstOfType()
    {
        ProxyHeader h = ParseWithTlvs(Tlv(0xE7, 1), Tlv(0xE7, 2));
        Assert.True(h.Tlvs.TryGet(0xE7, out ReadOnlySequence<byte> value));
        Assert.Equal(new byte[] { 1 }, value.ToArray());
        Assert.False(h.Tlvs.TryGet(0xE8, out _));
    }

    [Theory]
    [InlineData(0xE0, true, false, false)]
    [InlineData(0xEF, true, false, false)]
    [InlineData(0xF0, false, true, false)]
    [InlineData(0xF7, false, true, false)]
    [InlineData(0xF8, false, false, true)]
    [InlineData(0xFF, false, false, true)]
    [InlineData(0xDF, false, false, false)]
    [InlineData(0x01, false, false, false)]
    public void ProxyTlv_RangeFlags_MatchSpecRanges(byte type, bool custom, bool experimental, bool future)
    {
        ProxyHeader h = ParseWithTlvs(Tlv(type, 0x42));
        ProxyTlv tlv = default;
        foreach (ProxyTlv t in h.Tlvs)
        {
            tlv = t;
        }

        Assert.Equal(type, tlv.Type);
        Assert.Equal(new byte[] { 0x42 }, tlv.Value.ToArray());
        Assert.Equal(custom, tlv.IsCustom);
        Assert.Equal(experimental, tlv.IsExperimental);
        Assert.Equal(future, tlv.IsReservedForFuture);
    }

    [Fact]
    public void TryGetAwsVpcEndpointId_Subtype1_ReturnsEndpointId()
    {
        ProxyHeader h = ParseWithTlvs(Tlv(0xEA, Concat([0x01], Ascii("vpce-08d2bf15fac5001c9"))));
        Assert.True(h.TryGetAwsVpcEndpointId(out ReadOnlySequence<byte> id));
        Assert.Equal("vpce-08d2bf15fac5001c9", Text(id));
    }

    [Fact]
    public void TryGetAwsVpcEndpointId_OtherSubtypeFirst_FindsSubtype1()
    {
        ProxyHeader h = ParseWithTlvs(Tlv(0xEA, 0x02, 0x55), Tlv(0xEA, Concat([0x01], Ascii("vpce-1"))));
        Assert.True(h.TryGetAwsVpcEndpointId(out ReadOnlySequence<byte> id));
        Assert.Equal("vpce-1", Text(id));
    }

    [Theory]
    [InlineData(new byte[] { 0x02, 0x76 })]
    [InlineData(new byte[0])]
    public void TryGetAwsVpcEndpointId_WrongSubtypeOrEmpty_ReturnsFalse(byte[] value)
    {
        ProxyHeader h = ParseWithTlvs(Tlv(0xEA, value));
        Assert.False(h.TryGetAwsVpcEndpointId(out _));
    }

    [Fact]
    public void TryGetAzurePrivateLinkId_LittleEndian_ReturnsLinkId()
    {
        ProxyHeader h = ParseWithTlvs(Tlv(0xEE, 0x01, 0x78, 0x56, 0x34, 0x12));
        Assert.True(h.TryGetAzurePrivateLinkId(out uint link));
        Assert.Equal(0x12345678u, link);
    }

    [Theory]
    [InlineData(new byte[] { 0x02, 0x78, 0x56, 0x34, 0x12 })]
    [InlineData(new byte[] { 0x01, 0x78, 0x56, 0x34 })]
    [InlineData(new byte[] { 0x01, 0x78, 0x56, 0x34, 0x12, 0x00 })]
    [InlineData(new byte[0])]
    public void TryGetAzurePrivateLinkId_WrongSubtypeOrSize_ReturnsFalse(byte[] value)
    {
        ProxyHeader h = ParseWithTlvs(Tlv(0xEE, value));
        Assert.False(h.TryGetAzurePrivateLinkId(out _));
    }

    [Fact]
    public void TryGetGcpPscConnectionId_BigEndian_ReturnsId()
    {
        ProxyHeader h = ParseWithTlvs(Tlv(0xE0, 0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08));
        Assert.True(h.TryGetGcpPscConnectionId(out ulong id));
        Assert.Equal(0x0102030405060708ul, id);
    }

    [Theory]
    [InlineData(7)]
    [InlineData(9)]
    [InlineData(0)]
    public void TryGetGcpPscConnectionId_WrongSize_ReturnsFalse(int size)
    {
        ProxyHeader h = ParseWithTlvs(Tlv(0xE0, new byte[size]));
        Assert.False(h.TryGetGcpPscConnectionId(out _));
    }

    [Fact]
    public void TryGetCrc32C_ReturnsSentBigEndianValue()
    {
        byte[] header = WithCrc(V2(0x21, 0x11, Concat(Inet4Block, Tlv(0x03, 0, 0, 0, 0))), 16 + 12 + 3);
        ProxyHeader h = Parse.Complete(header);
        Assert.True(h.TryGetCrc32C(out uint crc));
        Assert.Equal(BinaryPrimitives.ReadUInt32BigEndian(header.AsSpan(31)), crc);
        Assert.Equal(ReferenceCrc32C(Concat(header[..31], [0, 0, 0, 0])), crc);
    }

    [Fact]
    public void Crc32C_Compute_KnownVector()
    {
        Assert.Equal(0xE3069283u, Crc32C.Compute("123456789"u8));
        Assert.Equal(0xE3069283u, ReferenceCrc32C("123456789"u8));
        Assert.Equal(0u, Crc32C.Compute([]));
    }

    [Fact]
    public void Crc32C_Compute_Rfc3720Vectors()
    {
        // iSCSI (RFC 3720 B.4) test vectors.
        Assert.Equal(0x8A9136AAu, Crc32C.Compute(new byte[32]));
        Assert.Equal(0x62A8AB43u, Crc32C.Compute(Enumerable.Repeat((byte)0xFF, 32).ToArray()));
        Assert.Equal(0x46DD794Eu, Crc32C.Compute(Enumerable.Range(0, 32).Select(i => (byte)i).ToArray()));
    }

    [Fact]
    public void Crc32C_UpdateOverSegments_EqualsOneShot()
    {
        byte[] data = Enumerable.Range(0, 301).Select(i => (byte)(i * 7)).ToArray();
        uint expected = ReferenceCrc32C(data);
        Assert.Equal(expected, Crc32C.Compute(data));
        for (int cut = 0; cut <= data.Length; cut += 13)
        {
            uint crc = Crc32C.Finish(Crc32C.Update(Crc32C.Seed, Sequences.Split(data, cut, Math.Min(cut + 5, data.Length))));
            Assert.Equal(expected, crc);
        }
    }
}
