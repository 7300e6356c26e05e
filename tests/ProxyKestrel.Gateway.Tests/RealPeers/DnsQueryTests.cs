using System.Buffers;
using System.Net;
using ProxyKestrel.Gateway.Tests.Infrastructure.Transports;

namespace ProxyKestrel.Gateway.Tests.RealPeers;

/// <summary>The DNS client helper of the real-peer tests on its own: query bytes, response parsing, the v2 datagram header.</summary>
[NotPerTransport("a helper's bytes; no gateway")]
public sealed class DnsQueryTests
{
    private static readonly byte[] s_helloQuery =
    [
        0x12, 0x34, 0x01, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
        5, (byte)'h', (byte)'e', (byte)'l', (byte)'l', (byte)'o', 2, (byte)'p', (byte)'k', 4, (byte)'t', (byte)'e', (byte)'s', (byte)'t', 0,
        0x00, 0x01, 0x00, 0x01,
    ];

    [Theory]
    [InlineData("hello.pk.test.")]
    [InlineData("hello.pk.test")]
    public void BuildA_Name_IsHeaderLabelsTypeAAndClassIn(string name)
    {
        Assert.Equal(s_helloQuery, DnsQuery.BuildA(name, 0x1234));
    }

    [Theory]
    [InlineData("a..test.")]
    [InlineData(".")]
    public void BuildA_EmptyLabel_Throws(string name)
    {
        Assert.Throws<ArgumentException>(() => DnsQuery.BuildA(name, 1));
    }

    [Fact]
    public void BuildA_LabelOver63Bytes_Throws()
    {
        Assert.Throws<ArgumentException>(() => DnsQuery.BuildA(new string('a', 64) + ".test.", 1));
    }

    [Fact]
    public void Parse_ResponseWithCnameThenCompressedA_ReturnsRCodeAndTheFirstA()
    {
        byte[] response =
        [
            .. Response(s_helloQuery, flags: 0x8180, answers: 2),
            // hello.pk.test. CNAME www.pk.test. (name and target compressed), then www.pk.test. A 192.0.2.77.
            0xC0, 0x0C, 0x00, 0x05, 0x00, 0x01, 0x00, 0x00, 0x00, 0x3C, 0x00, 0x06, 3, (byte)'w', (byte)'w', (byte)'w', 0xC0, 0x12,
            0xC0, 0x2B, 0x00, 0x01, 0x00, 0x01, 0x00, 0x00, 0x00, 0x3C, 0x00, 0x04, 192, 0, 2, 77,
        ];

        DnsAnswer answer = DnsQuery.Parse(response);

        Assert.Equal(new DnsAnswer(0x1234, DnsAnswer.NoError, IPAddress.Parse("192.0.2.77")), answer);
    }

    [Fact]
    public void Parse_RefusedWithoutQuestion_ReturnsRCodeFiveAndNoAddress()
    {
        byte[] response = [0xAB, 0xCD, 0x81, 0x05, 0, 0, 0, 0, 0, 0, 0, 0];

        Assert.Equal(new DnsAnswer(0xABCD, DnsAnswer.Refused, null), DnsQuery.Parse(response));
    }

    [Fact]
    public void Parse_NxDomainWithQuestionOnly_ReturnsRCodeThreeAndNoAddress()
    {
        Assert.Equal(new DnsAnswer(0x1234, 3, null), DnsQuery.Parse(Response(s_helloQuery, flags: 0x8183, answers: 0)));
    }

    [Fact]
    public void Parse_Query_ThrowsFormatException()
    {
        Assert.Throws<FormatException>(() => DnsQuery.Parse(s_helloQuery));
    }

    [Fact]
    public void Parse_AnswerCutShort_ThrowsFormatException()
    {
        byte[] response = [.. Response(s_helloQuery, flags: 0x8180, answers: 1), 0xC0, 0x0C, 0x00, 0x01, 0x00, 0x01, 0x00, 0x00, 0x00, 0x3C, 0x00, 0x04, 192, 0];

        Assert.Throws<FormatException>(() => DnsQuery.Parse(response));
    }

    [Fact]
    public void ProxyV2DatagramHeader_TwoIPv4Endpoints_IsProxyCommandUdp4WithTwelveAddressBytes()
    {
        byte[] header = DnsQuery.ProxyV2DatagramHeader(new IPEndPoint(IPAddress.Parse("127.0.0.2"), 0x1234), new IPEndPoint(IPAddress.Loopback, 53));

        byte[] expected =
        [
            0x0D, 0x0A, 0x0D, 0x0A, 0x00, 0x0D, 0x0A, 0x51, 0x55, 0x49, 0x54, 0x0A,
            0x21, 0x12, 0x00, 0x0C,
            127, 0, 0, 2, 127, 0, 0, 1, 0x12, 0x34, 0x00, 0x35,
        ];
        Assert.Equal(expected, header);
        Assert.Equal(ProxyParseStatus.Complete, ProxyHeaderParser.Parse(new ReadOnlySequence<byte>(header), out ProxyHeader parsed, out _));
        Assert.Equal(ProxyTransport.Datagram, parsed.Transport);
        Assert.Equal(new IPEndPoint(IPAddress.Parse("127.0.0.2"), 0x1234), parsed.GetSourceEndPoint());
    }

    /// <summary><paramref name="query"/> turned into a response header with <paramref name="flags"/> and an answer count.</summary>
    private static byte[] Response(byte[] query, ushort flags, ushort answers)
    {
        byte[] response = [.. query];
        response[2] = (byte)(flags >> 8);
        response[3] = (byte)flags;
        response[6] = (byte)(answers >> 8);
        response[7] = (byte)answers;
        return response;
    }
}
