using System.Buffers;
using ProxyKestrel.ProxyProtocol.Tests.Infrastructure;
using ProxyKestrel.Testing;
using static ProxyKestrel.ProxyProtocol.Tests.Infrastructure.Bytes;

namespace ProxyKestrel.ProxyProtocol.Tests;

public class ProxyHeaderParserDetectionTests
{
    public static TheoryData<string, byte[]> ValidHeaders => new()
    {
        { "v1 tcp4", Ascii("PROXY TCP4 192.168.0.1 192.168.0.11 56324 443\r\n") },
        { "v1 tcp6", Ascii("PROXY TCP6 2001:db8::1 ::ffff:10.0.0.1 1 65535\r\n") },
        { "v1 unknown", Ascii("PROXY UNKNOWN\r\n") },
        { "v1 unknown long", Ascii("PROXY UNKNOWN ffff::1 ::2 3 4\r\n") },
        { "v2 tcp4", V2(0x21, 0x11, Inet4Block) },
        { "v2 tcp6 tlvs", WithCrc(V2(0x21, 0x21, Concat(Inet6Block, Tlv(0x01, Ascii("h2")), Tlv(0x03, 0, 0, 0, 0))), 16 + 36 + 5 + 3) },
        { "v2 local", V2(0x20, 0x00) },
        { "v2 unix", V2(0x21, 0x31, UnixBlock("/a", "/b")) },
    };

    [Fact]
    public void Parse_Empty_NeedsMoreData()
    {
        ProxyParseStatus status = ProxyHeaderParser.Parse(ReadOnlySequence<byte>.Empty, out ProxyHeader header, out ProxyParseError error);
        Assert.Equal(ProxyParseStatus.NeedMoreData, status);
        Assert.Equal(ProxyParseError.None, error);
        Assert.Equal(0, header.Length);
    }

    [Fact]
    public void Parse_EmptyMultiSegment_NeedsMoreData() =>
        Assert.Equal(ProxyParseStatus.NeedMoreData, Parse.Run(Sequences.Split([], 0, 0)).Status);

    [Theory]
    [InlineData("GET / HTTP/1.1\r\n")]
    [InlineData("G")]
    [InlineData("X")]
    [InlineData("PROXX")]
    [InlineData("PROXY\r\n")]
    [InlineData("PROXy ")]
    [InlineData("P ")]
    [InlineData("\r\nX")]
    [InlineData("\r\n\r\r")]
    [InlineData("\n")]
    [InlineData(" PROXY TCP4")]
    [InlineData("proxy tcp4")]
    [InlineData("\r\r")]
    public void Parse_NonProxyText_IsInvalidNotProxyProtocolAtOnce(string input) =>
        Parse.Invalid(input, ProxyParseError.NotProxyProtocol);

    [Fact]
    public void Parse_TlsClientHelloStart_IsInvalidNotProxyProtocol() =>
        Parse.Invalid([0x16, 0x03, 0x01, 0x02, 0x00, 0x01], ProxyParseError.NotProxyProtocol);

    [Fact]
    public void Parse_TlsClientHelloFirstByte_IsInvalidNotProxyProtocol() =>
        Parse.Invalid([0x16], ProxyParseError.NotProxyProtocol);

    [Fact]
    public void Parse_Http2Preface_IsInvalidNotProxyProtocol() =>
        Parse.Invalid(Ascii("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"), ProxyParseError.NotProxyProtocol);

    [Fact]
    public void Parse_NulByte_IsInvalidNotProxyProtocol() => Parse.Invalid([0x00], ProxyParseError.NotProxyProtocol);

    [Theory]
    [MemberData(nameof(ValidHeaders))]
    public void Parse_EveryStrictPrefixOfValidHeader_NeedsMoreData(string name, byte[] header)
    {
        Assert.NotNull(name);
        for (int n = 0; n < header.Length; n++)
        {
            ParseResult r = Parse.Run(header[..n]);
            Assert.True(r.Status == ProxyParseStatus.NeedMoreData, $"{name}: prefix {n} gave {r.Status} {r.Error}");
            Assert.Equal(ProxyParseError.None, r.Error);
        }

        Assert.Equal(header.Length, Parse.Complete(header).Length);
    }

    [Theory]
    [InlineData(0)]
    [InlineData(1)]
    [InlineData(2)]
    [InlineData(3)]
    [InlineData(4)]
    [InlineData(5)]
    [InlineData(6)]
    [InlineData(7)]
    [InlineData(8)]
    [InlineData(9)]
    [InlineData(10)]
    [InlineData(11)]
    public void Parse_PrefixDivergingFromV2SignatureAtByteK_IsInvalidAtOnce(int k)
    {
        byte[] input = Signature[..(k + 1)];
        input[k] ^= 0x40;
        Parse.Invalid(input, ProxyParseError.NotProxyProtocol);

        // Also when more bytes (a full header's worth) follow.
        Parse.Invalid(Concat(input, Signature[(k + 1)..], [0x21, 0x11, 0, 12], Inet4Block), ProxyParseError.NotProxyProtocol);
    }

    [Theory]
    [InlineData(1)]
    [InlineData(2)]
    [InlineData(3)]
    [InlineData(4)]
    [InlineData(5)]
    public void Parse_PrefixDivergingFromV1PrefixAtByteK_IsInvalidAtOnce(int k)
    {
        byte[] input = Ascii("PROXY ")[..(k + 1)];
        input[k] = (byte)'Z';
        Parse.Invalid(input, ProxyParseError.NotProxyProtocol);
    }

    [Fact]
    public void Parse_V2SignatureFollowedByV1Text_IsInvalidBadVersion() =>
        Parse.Invalid(Concat(Signature, Ascii("PROXY TCP4")), ProxyParseError.V2BadVersion);

    [Fact]
    public void Parse_ProxyPrefixAlone_NeedsMoreData() => Parse.NeedMore("PROXY ");

    [Fact]
    public void DetectionConstants_MatchSpecification()
    {
        Assert.Equal(Signature, ProxyHeaderParser.V2Signature.ToArray());
        Assert.Equal("PROXY "u8.ToArray(), ProxyHeaderParser.V1Prefix.ToArray());
        Assert.Equal(12, ProxyHeaderParser.DetectionLength);
        Assert.Equal(107, ProxyHeaderParser.V1MaxLength);
        Assert.Equal(16, ProxyHeaderParser.V2FixedLength);
        Assert.Equal(16 + 65535, ProxyHeaderParser.V2MaxLength);
    }

    [Fact]
    public void Describe_EveryError_HasSpecificText()
    {
        var seen = new HashSet<string>();
        foreach (ProxyParseError error in Enum.GetValues<ProxyParseError>())
        {
            string text = error.Describe();
            Assert.False(string.IsNullOrWhiteSpace(text));
            Assert.NotEqual("unknown PROXY protocol error", text);
            Assert.True(seen.Add(text), $"duplicate description for {error}");
        }
    }
}
