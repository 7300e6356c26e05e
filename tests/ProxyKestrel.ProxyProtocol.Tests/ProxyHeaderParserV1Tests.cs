using System.Net;
using ProxyKestrel.ProxyProtocol.Tests.Infrastructure;

namespace ProxyKestrel.ProxyProtocol.Tests;

public class ProxyHeaderParserV1Tests
{
    private const string MaxIPv6 = "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff";

    [Fact]
    public void Parse_V1SpecExample_IsCompleteWithEndpoints()
    {
        const string line = "PROXY TCP4 192.168.0.1 192.168.0.11 56324 443\r\n";
        ProxyHeader h = Parse.Complete(line + "GET / HTTP/1.1\r\nHost: 192.168.0.11\r\n\r\n");

        Assert.Equal(ProxyProtocolVersion.V1, h.Version);
        Assert.Equal(ProxyCommand.Proxy, h.Command);
        Assert.Equal(ProxyAddressFamily.InterNetwork, h.AddressFamily);
        Assert.Equal(ProxyTransport.Stream, h.Transport);
        Assert.Equal(line.Length, h.Length);
        Assert.True(h.HasIPEndPoints);
        Assert.False(h.HasUnixAddresses);
        Assert.Equal(new IPEndPoint(IPAddress.Parse("192.168.0.1"), 56324), h.GetSourceEndPoint());
        Assert.Equal(new IPEndPoint(IPAddress.Parse("192.168.0.11"), 443), h.GetDestinationEndPoint());
        Assert.Equal(56324, h.SourcePort);
        Assert.Equal(443, h.DestinationPort);
        Assert.Equal(line, Bytes.Text(h.RawBytes));
        Assert.True(h.Tlvs.IsEmpty);

        Span<byte> address = stackalloc byte[16];
        Assert.Equal(4, h.CopySourceAddress(address));
        Assert.Equal(new byte[] { 192, 168, 0, 1 }, address[..4].ToArray());
        Assert.Equal(4, h.CopyDestinationAddress(address));
        Assert.Equal(new byte[] { 192, 168, 0, 11 }, address[..4].ToArray());
    }

    [Fact]
    public void Parse_V1Tcp4MaximumLine_Is56BytesAndComplete()
    {
        const string line = "PROXY TCP4 255.255.255.255 255.255.255.255 65535 65535\r\n";
        Assert.Equal(56, line.Length);
        ProxyHeader h = Parse.Complete(line);
        Assert.Equal(56, h.Length);
        Assert.Equal(IPAddress.Broadcast, h.GetSourceAddress());
        Assert.Equal(65535, h.SourcePort);
        Assert.Equal(65535, h.DestinationPort);
    }

    [Fact]
    public void Parse_V1Tcp6MaximumLine_Is104BytesAndComplete()
    {
        string line = $"PROXY TCP6 {MaxIPv6} {MaxIPv6} 65535 65535\r\n";
        Assert.Equal(104, line.Length);
        ProxyHeader h = Parse.Complete(line);
        Assert.Equal(104, h.Length);
        Assert.Equal(ProxyAddressFamily.InterNetworkV6, h.AddressFamily);
        Assert.Equal(IPAddress.Parse(MaxIPv6), h.GetSourceAddress());
        Assert.Equal(IPAddress.Parse(MaxIPv6), h.GetDestinationAddress());
    }

    [Fact]
    public void Parse_V1UnknownShortForm_Is15BytesWithoutEndpoints()
    {
        ProxyHeader h = Parse.Complete("PROXY UNKNOWN\r\nGET");
        Assert.Equal(15, h.Length);
        Assert.Equal(ProxyAddressFamily.Unspecified, h.AddressFamily);
        Assert.Equal(ProxyTransport.Unspecified, h.Transport);
        Assert.Equal(ProxyCommand.Proxy, h.Command);
        Assert.False(h.HasIPEndPoints);
        Assert.Null(h.GetSourceEndPoint());
        Assert.Null(h.GetDestinationAddress());
        Assert.Equal(0, h.SourcePort);
    }

    [Fact]
    public void Parse_V1UnknownWorstCase107Bytes_IsComplete()
    {
        string line = $"PROXY UNKNOWN {MaxIPv6} {MaxIPv6} 65535 65535\r\n";
        Assert.Equal(107, line.Length);
        ProxyHeader h = Parse.Complete(line + "tail");
        Assert.Equal(107, h.Length);
        Assert.False(h.HasIPEndPoints);
    }

    [Fact]
    public void Parse_V1Unknown108Bytes_IsInvalidLineTooLong()
    {
        string line = $"PROXY UNKNOWN {MaxIPv6} {MaxIPv6} 65535 655350\r\n";
        Assert.Equal(108, line.Length);
        Parse.Invalid(line, ProxyParseError.V1LineTooLong);
    }

    [Fact]
    public void Parse_V1UnknownWithAnything_IsCompleteUnspecified()
    {
        ProxyHeader h = Parse.Complete("PROXY UNKNOWN anything here\r\n");
        Assert.Equal(29, h.Length);
        Assert.False(h.HasIPEndPoints);
        Assert.Equal(ProxyAddressFamily.Unspecified, h.AddressFamily);
    }

    [Fact]
    public void Parse_V1UnknownWithGarbageBytes_IsComplete()
    {
        // "the receiver must ignore anything presented before the CRLF"
        const string line = "PROXY UNKNOWN \x01\x7f zz%[]\r\n";
        ProxyHeader h = Parse.Complete(line + "GET");
        Assert.Equal(line.Length, h.Length);
    }

    [Fact]
    public void Parse_V1UnknownX_IsInvalidUnknownProtocol() =>
        Parse.Invalid("PROXY UNKNOWNX\r\n", ProxyParseError.V1UnknownProtocol);

    [Fact]
    public void Parse_V1UnknownXWithoutCrlf_IsInvalidAtOnce() =>
        Parse.Invalid("PROXY UNKNOWNX", ProxyParseError.V1UnknownProtocol);

    [Fact]
    public void Parse_V1Tcp4FollowedByDigit_IsInvalidAtOnce() =>
        Parse.Invalid("PROXY TCP44", ProxyParseError.V1UnknownProtocol);

    [Theory]
    [InlineData("PROXY TCP5 1.2.3.4 5.6.7.8 1 2\r\n")]
    [InlineData("PROXY tcp4 1.2.3.4 5.6.7.8 1 2\r\n")]
    [InlineData("PROXY TCP5")]
    [InlineData("PROXY t")]
    [InlineData("PROXY UDP4 1.2.3.4 5.6.7.8 1 2\r\n")]
    [InlineData("PROXY UNKNOWn\r\n")]
    [InlineData("PROXY  TCP4 1.2.3.4 5.6.7.8 1 2\r\n")]
    [InlineData("PROXY \r\n")]
    public void Parse_V1BadProtocolToken_IsInvalidUnknownProtocol(string input) =>
        Parse.Invalid(input, ProxyParseError.V1UnknownProtocol);

    [Theory]
    [InlineData("PROXY TCP4 1.2.3.4  5.6.7.8 1 2\r\n")]
    [InlineData("PROXY TCP4 1.2.3.4 5.6.7.8  1 2\r\n")]
    [InlineData("PROXY TCP4 1.2.3.4 5.6.7.8 1  2\r\n")]
    [InlineData("PROXY TCP4  1.2.3.4 5.6.7.8 1 2\r\n")]
    [InlineData("PROXY TCP4 1.2.3.4 5.6.7.8 1 2 \r\n")]
    [InlineData("PROXY TCP4 1.2.3.4 5.6.7.8 1\r\n")]
    [InlineData("PROXY TCP4 1.2.3.4 5.6.7.8\r\n")]
    [InlineData("PROXY TCP4 1.2.3.4\r\n")]
    [InlineData("PROXY TCP4\r\n")]
    [InlineData("PROXY TCP4 \r\n")]
    [InlineData("PROXY TCP4 1.2.3.4 5.6.7.8 1 2 3\r\n")]
    [InlineData("PROXY TCP6 ::1 ::2 1 2 3\r\n")]
    public void Parse_V1BadFieldLayout_IsInvalidBadFieldLayout(string input) =>
        Parse.Invalid(input, ProxyParseError.V1BadFieldLayout);

    [Theory]
    [InlineData("PROXY TCP4 01.2.3.4 5.6.7.8 1 2\r\n")]
    [InlineData("PROXY TCP4 1.02.3.4 5.6.7.8 1 2\r\n")]
    [InlineData("PROXY TCP4 1.2.3.00 5.6.7.8 1 2\r\n")]
    [InlineData("PROXY TCP4 256.0.0.1 5.6.7.8 1 2\r\n")]
    [InlineData("PROXY TCP4 1.2.3.256 5.6.7.8 1 2\r\n")]
    [InlineData("PROXY TCP4 1.2.3.1000 5.6.7.8 1 2\r\n")]
    [InlineData("PROXY TCP4 1.2.3 5.6.7.8 1 2\r\n")]
    [InlineData("PROXY TCP4 1.2.3.4.5 5.6.7.8 1 2\r\n")]
    [InlineData("PROXY TCP4 1..3.4 5.6.7.8 1 2\r\n")]
    [InlineData("PROXY TCP4 .1.2.3 5.6.7.8 1 2\r\n")]
    [InlineData("PROXY TCP4 1.2.3.4. 5.6.7.8 1 2\r\n")]
    [InlineData("PROXY TCP4 ::1 5.6.7.8 1 2\r\n")]
    [InlineData("PROXY TCP4 ::ffff:1.2.3.4 5.6.7.8 1 2\r\n")]
    [InlineData("PROXY TCP4 a.b.c.d 5.6.7.8 1 2\r\n")]
    public void Parse_V1Tcp4BadSource_IsInvalidBadSourceAddress(string input) =>
        Parse.Invalid(input, ProxyParseError.V1BadSourceAddress);

    [Theory]
    [InlineData("PROXY TCP4 1.2.3.4 05.6.7.8 1 2\r\n")]
    [InlineData("PROXY TCP4 1.2.3.4 5.6.7.256 1 2\r\n")]
    [InlineData("PROXY TCP4 1.2.3.4 2001:db8::1 1 2\r\n")]
    public void Parse_V1Tcp4BadDestination_IsInvalidBadDestinationAddress(string input) =>
        Parse.Invalid(input, ProxyParseError.V1BadDestinationAddress);

    [Fact]
    public void Parse_V1Tcp6WithIPv4Source_IsInvalidBadSourceAddress() =>
        Parse.Invalid("PROXY TCP6 1.2.3.4 ::1 1 2\r\n", ProxyParseError.V1BadSourceAddress);

    [Fact]
    public void Parse_V1Tcp6WithIPv4Destination_IsInvalidBadDestinationAddress() =>
        Parse.Invalid("PROXY TCP6 ::1 1.2.3.4 1 2\r\n", ProxyParseError.V1BadDestinationAddress);

    [Theory]
    [InlineData("PROXY TCP4 1.2.3.4 5.6.7.8 0443 443\r\n")]
    [InlineData("PROXY TCP4 1.2.3.4 5.6.7.8 00 443\r\n")]
    [InlineData("PROXY TCP4 1.2.3.4 5.6.7.8 65536 443\r\n")]
    [InlineData("PROXY TCP4 1.2.3.4 5.6.7.8 99999 443\r\n")]
    [InlineData("PROXY TCP4 1.2.3.4 5.6.7.8 100000 443\r\n")]
    [InlineData("PROXY TCP4 1.2.3.4 5.6.7.8 1a 443\r\n")]
    [InlineData("PROXY TCP4 1.2.3.4 5.6.7.8 1.0 443\r\n")]
    public void Parse_V1BadSourcePort_IsInvalidBadSourcePort(string input) =>
        Parse.Invalid(input, ProxyParseError.V1BadSourcePort);

    [Fact]
    public void Parse_V1Tcp4WithLeadingZeroPort_IsInvalidBadSourcePort() =>
        Parse.Invalid("PROXY TCP4 192.168.0.1 192.168.0.11 056324 443\r\n", ProxyParseError.V1BadSourcePort);

    [Theory]
    [InlineData("PROXY TCP4 1.2.3.4 5.6.7.8 443 0443\r\n")]
    [InlineData("PROXY TCP4 1.2.3.4 5.6.7.8 443 65536\r\n")]
    [InlineData("PROXY TCP6 ::1 ::2 443 0\u0030\r\n")]
    public void Parse_V1BadDestinationPort_IsInvalidBadDestinationPort(string input) =>
        Parse.Invalid(input, ProxyParseError.V1BadDestinationPort);

    [Theory]
    [InlineData("PROXY TCP4 1.2.3.4 5.6.7.8 -1 2\r\n")]
    [InlineData("PROXY TCP4 1.2.3.4 5.6.7.8 +1 2\r\n")]
    [InlineData("PROXY TCP4 1.2.3.4 5.6.7.8 1 2\tx\r\n")]
    [InlineData("PROXY TCP6 fe80::1%eth0 ::1 1 2\r\n")]
    [InlineData("PROXY TCP6 [::1] ::1 1 2\r\n")]
    [InlineData("PROXY TCP4 1.2.3.4 5.6.7.8 1 2\0\r\n")]
    [InlineData("PROXY TCP4 1.2.3.4 5.6.7.8 1 X")]
    public void Parse_V1ForbiddenCharacter_IsInvalidUnexpectedCharacter(string input) =>
        Parse.Invalid(input, ProxyParseError.V1UnexpectedCharacter);

    [Theory]
    [InlineData("0", 0)]
    [InlineData("1", 1)]
    [InlineData("65535", 65535)]
    [InlineData("10", 10)]
    public void Parse_V1PortBoundaries_AreAccepted(string port, int expected)
    {
        ProxyHeader h = Parse.Complete($"PROXY TCP4 1.2.3.4 5.6.7.8 {port} {port}\r\n");
        Assert.Equal(expected, h.SourcePort);
        Assert.Equal(expected, h.DestinationPort);
    }

    [Theory]
    [InlineData("0.0.0.0")]
    [InlineData("10.0.0.1")]
    [InlineData("100.200.250.255")]
    [InlineData("9.99.199.249")]
    public void Parse_V1Tcp4ValidOctets_AreAccepted(string address)
    {
        ProxyHeader h = Parse.Complete($"PROXY TCP4 {address} {address} 1 2\r\n");
        Assert.Equal(IPAddress.Parse(address), h.GetSourceAddress());
        Assert.Equal(IPAddress.Parse(address), h.GetDestinationAddress());
    }

    [Theory]
    [InlineData("::")]
    [InlineData("::1")]
    [InlineData("1::")]
    [InlineData("2001:db8::1")]
    [InlineData("2001:0db8:0000:0000:0000:ff00:0042:8329")]
    [InlineData("2001:DB8::ABCD")]
    [InlineData("FFFF:ffff:Ffff:0:0:0:0:1")]
    [InlineData("::ffff:1.2.3.4")]
    [InlineData("::ffff:255.255.255.255")]
    [InlineData("1:2:3:4:5:6:7::")]
    [InlineData("::2:3:4:5:6:7:8")]
    [InlineData("1:2:3:4:5:6:1.2.3.4")]
    [InlineData("fe80::1:2")]
    [InlineData("0:0:0:0:0:0:0:0")]
    public void Parse_V1Tcp6ValidForms_DecodeLikeIPAddressParse(string address)
    {
        ProxyHeader h = Parse.Complete($"PROXY TCP6 {address} ::1 1 2\r\n");
        Assert.Equal(ProxyAddressFamily.InterNetworkV6, h.AddressFamily);
        Assert.Equal(IPAddress.Parse(address), h.GetSourceAddress());
        Assert.Equal(IPAddress.IPv6Loopback, h.GetDestinationAddress());

        ProxyHeader reversed = Parse.Complete($"PROXY TCP6 ::1 {address} 1 2\r\n");
        Assert.Equal(IPAddress.Parse(address), reversed.GetDestinationAddress());
    }

    [Theory]
    [InlineData("1:::2")]
    [InlineData("1::2::3")]
    [InlineData("::1::")]
    [InlineData("1:2:3:4:5:6:7:8:9")]
    [InlineData("1:2:3:4:5:6:7")]
    [InlineData("12345::1")]
    [InlineData("1:2:3:4:5:6:7:8::")]
    [InlineData("::1:2:3:4:5:6:7:8")]
    [InlineData("::ffff:01.2.3.4")]
    [InlineData("::ffff:1.2.3")]
    [InlineData("::ffff:1.2.3.256")]
    [InlineData("1:2:3:4:5:6:7:1.2.3.4")]
    [InlineData("::1.2.3.4:1")]
    [InlineData(":1")]
    [InlineData("1:")]
    [InlineData(":")]
    [InlineData("1")]
    [InlineData("1:2:3:4:5:6:7:8:")]
    [InlineData(":1:2:3:4:5:6:7:8")]
    [InlineData("::ab.1.2.3")]
    public void Parse_V1Tcp6InvalidForms_IsInvalidBadSourceAddress(string address) =>
        Parse.Invalid($"PROXY TCP6 {address} ::1 1 2\r\n", ProxyParseError.V1BadSourceAddress);

    [Fact]
    public void Parse_V1Tcp6WithZoneId_IsInvalid() =>
        Parse.Invalid("PROXY TCP6 fe80::1%eth0 fe80::2 1 2\r\n", ProxyParseError.V1UnexpectedCharacter);

    [Fact]
    public void Parse_V1Tcp6WithBrackets_IsInvalid() =>
        Parse.Invalid("PROXY TCP6 ::1 [::2] 1 2\r\n", ProxyParseError.V1UnexpectedCharacter);

    [Fact]
    public void Parse_V1LfOnly_IsInvalidBadLineEnding() =>
        Parse.Invalid("PROXY TCP4 1.2.3.4 5.6.7.8 1 2\nGET", ProxyParseError.V1BadLineEnding);

    [Fact]
    public void Parse_V1CrFollowedByOther_IsInvalidBadLineEnding() =>
        Parse.Invalid("PROXY TCP4 1.2.3.4 5.6.7.8 1 2\rGET", ProxyParseError.V1BadLineEnding);

    [Fact]
    public void Parse_V1CrCr_IsInvalidBadLineEnding() =>
        Parse.Invalid("PROXY TCP4 1.2.3.4 5.6.7.8 1 2\r\r\n", ProxyParseError.V1BadLineEnding);

    [Fact]
    public void Parse_V1UnknownLfOnly_IsInvalidBadLineEnding() =>
        Parse.Invalid("PROXY UNKNOWN\n", ProxyParseError.V1BadLineEnding);

    [Fact]
    public void Parse_V1UnknownCrFollowedByOther_IsInvalidBadLineEnding() =>
        Parse.Invalid("PROXY UNKNOWN\rX", ProxyParseError.V1BadLineEnding);

    [Fact]
    public void Parse_V1CrAtEnd_NeedsMoreDataUntilLf()
    {
        const string line = "PROXY TCP4 1.2.3.4 5.6.7.8 1 2\r";
        Parse.NeedMore(line);
        ProxyHeader h = Parse.Complete(line + "\n");
        Assert.Equal(line.Length + 1, h.Length);
    }

    [Fact]
    public void Parse_V1UnknownCrAtEnd_NeedsMoreData() => Parse.NeedMore("PROXY UNKNOWN\r");

    [Fact]
    public void Parse_V1NoCrlfWithin107Bytes_IsInvalidLineTooLong() =>
        Parse.Invalid("PROXY UNKNOWN " + new string('a', 120), ProxyParseError.V1LineTooLong);

    [Fact]
    public void Parse_V1UnknownWithout106Crlf_NeedsMoreDataUpTo106Bytes()
    {
        string line = "PROXY UNKNOWN " + new string('a', 92);
        Assert.Equal(106, line.Length);
        Parse.NeedMore(line);
        Parse.Invalid(line + "a", ProxyParseError.V1LineTooLong);
        Parse.NeedMore(line[..^1] + "\r");
        Parse.Invalid(line + "\r", ProxyParseError.V1LineTooLong);
    }

    [Fact]
    public void Parse_V1Tcp6NoCrlfWithin107Bytes_IsInvalidLineTooLong()
    {
        string line = $"PROXY TCP6 {MaxIPv6} {MaxIPv6} 65535 65535 1 2 3";
        Assert.True(line.Length >= 107);
        Parse.Invalid(line, ProxyParseError.V1LineTooLong);
    }

    [Fact]
    public void Parse_V1ValidLine_LeavesTrailingBytesUntouched()
    {
        const string line = "PROXY TCP6 2001:db8::1 2001:db8::2 1234 443\r\n";
        byte[] input = Bytes.Ascii(line + "\x16\x03\x01\x02\x00");
        ProxyHeader h = Parse.Complete(input);
        Assert.Equal(line.Length, h.Length);
        Assert.Equal(new IPEndPoint(IPAddress.Parse("2001:db8::1"), 1234), h.GetSourceEndPoint());
        Assert.Equal(new IPEndPoint(IPAddress.Parse("2001:db8::2"), 443), h.GetDestinationEndPoint());

        Span<byte> address = stackalloc byte[16];
        Assert.Equal(16, h.CopySourceAddress(address));
        Assert.Equal(IPAddress.Parse("2001:db8::1").GetAddressBytes(), address.ToArray());
    }

    [Fact]
    public void Parse_V1ToString_MentionsEndpoints()
    {
        ProxyHeader h = Parse.Complete("PROXY TCP4 192.168.0.1 192.168.0.11 56324 443\r\n");
        string text = h.ToString();
        Assert.Contains("192.168.0.1:56324", text, StringComparison.Ordinal);
        Assert.Contains("192.168.0.11:443", text, StringComparison.Ordinal);
    }
}
