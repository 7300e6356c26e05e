using System.Buffers;
using System.Net;
using System.Text;
using ProxyKestrel.ProxyProtocol.Tests.Infrastructure;

namespace ProxyKestrel.ProxyProtocol.Tests;

public class ProxyHeaderWriterTests
{
    private static string WriteV1(string source, int sourcePort, string destination, int destinationPort)
    {
        Span<byte> buffer = stackalloc byte[ProxyHeaderWriter.V1MaxLength];
        Assert.True(ProxyHeaderWriter.TryWriteV1(buffer, IPAddress.Parse(source), sourcePort, IPAddress.Parse(destination), destinationPort, out int written));
        return Encoding.ASCII.GetString(buffer[..written]);
    }

    [Fact]
    public void TryWriteV1_SpecExample_IsExactLine() =>
        Assert.Equal("PROXY TCP4 192.168.0.1 192.168.0.11 56324 443\r\n", WriteV1("192.168.0.1", 56324, "192.168.0.11", 443));

    [Fact]
    public void TryWriteV1_Tcp4Maximum_Is56Bytes() =>
        Assert.Equal("PROXY TCP4 255.255.255.255 255.255.255.255 65535 65535\r\n", WriteV1("255.255.255.255", 65535, "255.255.255.255", 65535));

    [Fact]
    public void TryWriteV1_Tcp6_IsRfc5952Text() =>
        Assert.Equal("PROXY TCP6 2001:db8::1 2001:db8:0:1::2 1234 443\r\n", WriteV1("2001:0DB8:0000::0001", 1234, "2001:db8:0:1:0:0:0:2", 443));

    [Fact]
    public void TryWriteV1_Tcp6Maximum_Is104Bytes()
    {
        const string max = "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff";
        string line = WriteV1(max, 65535, max, 65535);
        Assert.Equal($"PROXY TCP6 {max} {max} 65535 65535\r\n", line);
        Assert.Equal(104, line.Length);
    }

    [Fact]
    public void TryWriteV1_BothIPv4MappedIPv6_WritesTcp4() =>
        Assert.Equal("PROXY TCP4 10.0.0.1 10.0.0.2 1 2\r\n", WriteV1("::ffff:10.0.0.1", 1, "::ffff:10.0.0.2", 2));

    [Fact]
    public void TryWriteV1_MappedAndPlainIPv4_WritesTcp4() =>
        Assert.Equal("PROXY TCP4 10.0.0.1 10.0.0.2 1 2\r\n", WriteV1("::ffff:10.0.0.1", 1, "10.0.0.2", 2));

    [Fact]
    public void TryWriteV1_IPv4AndIPv6_WritesTcp6WithMappedIPv4()
    {
        Assert.Equal("PROXY TCP6 ::ffff:10.0.0.1 2001:db8::1 1 2\r\n", WriteV1("10.0.0.1", 1, "2001:db8::1", 2));
        Assert.Equal("PROXY TCP6 2001:db8::1 ::ffff:10.0.0.1 1 2\r\n", WriteV1("2001:db8::1", 1, "10.0.0.1", 2));
        Assert.Equal("PROXY TCP6 ::ffff:10.0.0.1 ::1 1 2\r\n", WriteV1("::ffff:10.0.0.1", 1, "::1", 2));
    }

    [Fact]
    public void TryWriteV1_MixedFamilies_RoundTripsThroughParser()
    {
        string line = WriteV1("10.0.0.1", 1, "2001:db8::1", 2);
        ProxyHeader h = Parse.Complete(line);
        Assert.Equal(IPAddress.Parse("::ffff:10.0.0.1"), h.GetSourceAddress());
        Assert.Equal(IPAddress.Parse("2001:db8::1"), h.GetDestinationAddress());
    }

    [Fact]
    public void TryWriteV1_ZoneId_IsDropped()
    {
        var source = IPAddress.Parse("fe80::1%3");
        Span<byte> buffer = stackalloc byte[ProxyHeaderWriter.V1MaxLength];
        Assert.True(ProxyHeaderWriter.TryWriteV1(buffer, source, 1, IPAddress.Parse("fe80::2"), 2, out int written));
        Assert.Equal("PROXY TCP6 fe80::1 fe80::2 1 2\r\n", Encoding.ASCII.GetString(buffer[..written]));
    }

    [Fact]
    public void TryWriteV1_PortZero_IsWritten() =>
        Assert.Equal("PROXY TCP4 0.0.0.0 0.0.0.0 0 0\r\n", WriteV1("0.0.0.0", 0, "0.0.0.0", 0));

    [Fact]
    public void TryWriteV1_BufferTooSmallAtEveryLength_ReturnsFalse()
    {
        const string expected = "PROXY TCP6 2001:db8::1 ::ffff:10.0.0.1 65535 443\r\n";
        for (int size = 0; size < expected.Length; size++)
        {
            byte[] buffer = new byte[size];
            Assert.False(ProxyHeaderWriter.TryWriteV1(buffer, IPAddress.Parse("2001:db8::1"), 65535, IPAddress.Parse("10.0.0.1"), 443, out int written));
            Assert.Equal(0, written);
        }

        byte[] exact = new byte[expected.Length];
        Assert.True(ProxyHeaderWriter.TryWriteV1(exact, IPAddress.Parse("2001:db8::1"), 65535, IPAddress.Parse("10.0.0.1"), 443, out int n));
        Assert.Equal(expected, Encoding.ASCII.GetString(exact, 0, n));
    }

    [Fact]
    public void WriteV1_BufferTooSmall_ThrowsArgumentException()
    {
        var source = new IPEndPoint(IPAddress.Parse("192.168.0.1"), 56324);
        var destination = new IPEndPoint(IPAddress.Parse("192.168.0.11"), 443);
        Assert.Throws<ArgumentException>(() => ProxyHeaderWriter.WriteV1(new byte[20], source, destination));
        Assert.Throws<ArgumentException>(() => ProxyHeaderWriter.WriteV1Unknown(new byte[14]));
    }

    [Theory]
    [InlineData(-1, 1)]
    [InlineData(65536, 1)]
    [InlineData(1, -1)]
    [InlineData(1, 65536)]
    public void TryWriteV1_PortOutOfRange_Throws(int sourcePort, int destinationPort) =>
        Assert.Throws<ArgumentOutOfRangeException>(() =>
            ProxyHeaderWriter.TryWriteV1(new byte[107], IPAddress.Loopback, sourcePort, IPAddress.Loopback, destinationPort, out _));

    [Fact]
    public void TryWriteV1_NullAddress_Throws()
    {
        Assert.Throws<ArgumentNullException>(() => ProxyHeaderWriter.TryWriteV1(new byte[107], null!, 1, IPAddress.Loopback, 1, out _));
        Assert.Throws<ArgumentNullException>(() => ProxyHeaderWriter.TryWriteV1(new byte[107], IPAddress.Loopback, 1, null!, 1, out _));
    }

    [Fact]
    public void WriteV1_Span_ReturnsLengthOfSpecExample()
    {
        byte[] buffer = new byte[200];
        int n = ProxyHeaderWriter.WriteV1(buffer, new IPEndPoint(IPAddress.Parse("192.168.0.1"), 56324), new IPEndPoint(IPAddress.Parse("192.168.0.11"), 443));
        Assert.Equal("PROXY TCP4 192.168.0.1 192.168.0.11 56324 443\r\n", Encoding.ASCII.GetString(buffer, 0, n));
    }

    [Fact]
    public void WriteV1_BufferWriter_AdvancesExactly()
    {
        var output = new ArrayBufferWriter<byte>();
        output.Write("xy"u8);
        int n = ProxyHeaderWriter.WriteV1(output, new IPEndPoint(IPAddress.Parse("192.168.0.1"), 56324), new IPEndPoint(IPAddress.Parse("192.168.0.11"), 443));
        Assert.Equal(47, n);
        Assert.Equal(2 + 47, output.WrittenCount);
        Assert.Equal("xyPROXY TCP4 192.168.0.1 192.168.0.11 56324 443\r\n", Encoding.ASCII.GetString(output.WrittenSpan));
    }

    [Fact]
    public void WriteV1Unknown_Span_WritesShortForm()
    {
        byte[] buffer = new byte[20];
        Assert.Equal(15, ProxyHeaderWriter.WriteV1Unknown(buffer));
        Assert.Equal("PROXY UNKNOWN\r\n", Encoding.ASCII.GetString(buffer, 0, 15));
        Assert.Equal(ProxyHeaderWriter.V1UnknownLength, Parse.Complete(buffer[..15]).Length);
    }

    [Fact]
    public void WriteV1Unknown_BufferWriter_AdvancesExactly()
    {
        var output = new ArrayBufferWriter<byte>();
        Assert.Equal(15, ProxyHeaderWriter.WriteV1Unknown(output));
        Assert.Equal(15, output.WrittenCount);
        Assert.Equal("PROXY UNKNOWN\r\n", Encoding.ASCII.GetString(output.WrittenSpan));
    }

    [Fact]
    public void WriteV1_NullArguments_Throw()
    {
        var ep = new IPEndPoint(IPAddress.Loopback, 1);
        Assert.Throws<ArgumentNullException>(() => ProxyHeaderWriter.WriteV1(new byte[107], null!, ep));
        Assert.Throws<ArgumentNullException>(() => ProxyHeaderWriter.WriteV1(new byte[107], ep, null!));
        Assert.Throws<ArgumentNullException>(() => ProxyHeaderWriter.WriteV1((IBufferWriter<byte>)null!, ep, ep));
        Assert.Throws<ArgumentNullException>(() => ProxyHeaderWriter.WriteV1Unknown((IBufferWriter<byte>)null!));
    }
}
