using System.Net;
using System.Buffers;
using ProxyKestrel.ProxyProtocol.Tests.Infrastructure;
using static ProxyKestrel.ProxyProtocol.Tests.Infrastructure.Bytes;

namespace ProxyKestrel.ProxyProtocol.Tests;

public class ProxyHeaderParserV2Tests
{
    private static readonly byte[] Trailer = Ascii("GET / HTTP/1.1\r\n");

    [Fact]
    public void Parse_V2Tcp4_IsCompleteWithEndpoints()
    {
        byte[] header = V2(0x21, 0x11, Inet4Block);
        ProxyHeader h = Parse.Complete(Concat(header, Trailer));

        Assert.Equal(28, h.Length);
        Assert.Equal(ProxyProtocolVersion.V2, h.Version);
        Assert.Equal(ProxyCommand.Proxy, h.Command);
        Assert.Equal(ProxyAddressFamily.InterNetwork, h.AddressFamily);
        Assert.Equal(ProxyTransport.Stream, h.Transport);
        Assert.True(h.HasIPEndPoints);
        Assert.Equal(new IPEndPoint(IPAddress.Parse("192.168.0.1"), 56324), h.GetSourceEndPoint());
        Assert.Equal(new IPEndPoint(IPAddress.Parse("192.168.0.11"), 443), h.GetDestinationEndPoint());
        Assert.True(h.Tlvs.IsEmpty);
        Assert.Equal(0, h.Tlvs.Count());
        Assert.Equal(header, h.RawBytes.ToArray());
    }

    [Fact]
    public void Parse_V2Udp4_IsCompleteDatagram()
    {
        ProxyHeader h = Parse.Complete(V2(0x21, 0x12, Inet4Block));
        Assert.Equal(ProxyTransport.Datagram, h.Transport);
        Assert.Equal(ProxyAddressFamily.InterNetwork, h.AddressFamily);
        Assert.True(h.HasIPEndPoints);
        Assert.Equal(56324, h.SourcePort);
    }

    [Fact]
    public void Parse_V2Tcp6_IsCompleteWithEndpoints()
    {
        ProxyHeader h = Parse.Complete(Concat(V2(0x21, 0x21, Inet6Block), Trailer));
        Assert.Equal(52, h.Length);
        Assert.Equal(ProxyAddressFamily.InterNetworkV6, h.AddressFamily);
        Assert.Equal(ProxyTransport.Stream, h.Transport);
        Assert.Equal(new IPEndPoint(IPAddress.Parse("2001:db8::1"), 1234), h.GetSourceEndPoint());
        Assert.Equal(new IPEndPoint(IPAddress.Parse("2001:db8::2"), 443), h.GetDestinationEndPoint());
    }

    [Fact]
    public void Parse_V2Udp6_IsCompleteDatagram()
    {
        ProxyHeader h = Parse.Complete(V2(0x21, 0x22, Inet6Block));
        Assert.Equal(ProxyTransport.Datagram, h.Transport);
        Assert.Equal(ProxyAddressFamily.InterNetworkV6, h.AddressFamily);
        Assert.True(h.HasIPEndPoints);
    }

    [Theory]
    [InlineData(0x31, ProxyTransport.Stream)]
    [InlineData(0x32, ProxyTransport.Datagram)]
    public void Parse_V2Unix_ExposesPathsUpToNul(byte familyTransport, ProxyTransport transport)
    {
        ProxyHeader h = Parse.Complete(Concat(V2(0x21, familyTransport, UnixBlock("/var/run/src.sock", "/tmp/dst")), Trailer));
        Assert.Equal(16 + 216, h.Length);
        Assert.Equal(ProxyAddressFamily.Unix, h.AddressFamily);
        Assert.Equal(transport, h.Transport);
        Assert.True(h.HasUnixAddresses);
        Assert.False(h.HasIPEndPoints);
        Assert.Null(h.GetSourceEndPoint());
        Assert.Equal("/var/run/src.sock", Text(h.UnixSourcePath));
        Assert.Equal("/tmp/dst", Text(h.UnixDestinationPath));
        Span<byte> buffer = stackalloc byte[16];
        Assert.Equal(0, h.CopySourceAddress(buffer));
    }

    [Fact]
    public void Parse_V2UnixFullLengthPath_ExposesAll108Bytes()
    {
        string path = new('p', 108);
        ProxyHeader h = Parse.Complete(V2(0x21, 0x31, UnixBlock(path, "")));
        Assert.Equal(path, Text(h.UnixSourcePath));
        Assert.Equal("", Text(h.UnixDestinationPath));
    }

    [Fact]
    public void Parse_V2ProxyUnspec_IsCompleteWithoutEndpoints()
    {
        ProxyHeader h = Parse.Complete(Concat(V2(0x21, 0x00), Trailer));
        Assert.Equal(16, h.Length);
        Assert.Equal(ProxyCommand.Proxy, h.Command);
        Assert.Equal(ProxyAddressFamily.Unspecified, h.AddressFamily);
        Assert.False(h.HasIPEndPoints);
        Assert.Null(h.GetSourceAddress());
        Assert.Equal(0, h.SourcePort);
    }

    [Fact]
    public void Parse_V2LocalUnspec_IsCompleteLocal()
    {
        ProxyHeader h = Parse.Complete(Concat(V2(0x20, 0x00), Trailer));
        Assert.Equal(16, h.Length);
        Assert.Equal(ProxyCommand.Local, h.Command);
        Assert.False(h.HasIPEndPoints);
        Assert.True(h.Tlvs.IsEmpty);
    }

    [Fact]
    public void Parse_V2LocalWithInetAddresses_IsCompleteWithoutEndpoints()
    {
        ProxyHeader h = Parse.Complete(V2(0x20, 0x11, Inet4Block));
        Assert.Equal(ProxyCommand.Local, h.Command);
        Assert.Equal(ProxyAddressFamily.InterNetwork, h.AddressFamily);
        Assert.False(h.HasIPEndPoints);
        Assert.Null(h.GetSourceEndPoint());
    }

    [Fact]
    public void Parse_V2LocalUnspecWithTlvs_ExposesTlvs()
    {
        byte[] header = V2(0x20, 0x00, Concat(Tlv(0x04, 0, 0), Tlv(0x02, Ascii("example.com"))));
        ProxyHeader h = Parse.Complete(Concat(header, Trailer));
        Assert.Equal(header.Length, h.Length);
        Assert.Equal(ProxyCommand.Local, h.Command);
        Assert.Equal(2, h.Tlvs.Count());
        Assert.True(h.TryGetAuthority(out var authority));
        Assert.Equal("example.com", Text(authority));
    }

    [Fact]
    public void Parse_V2UnspecWithAddressBytes_SkipsThemAsDeclaredLength()
    {
        // "Receivers MUST always consider this field to skip the appropriate number of bytes" — for UNSPEC the bytes
        // after the fixed part are read as TLVs; a well-formed NOOP is accepted.
        byte[] header = V2(0x20, 0x00, Tlv(0x04, new byte[20]));
        Assert.Equal(header.Length, Parse.Complete(Concat(header, Trailer)).Length);
    }

    [Fact]
    public void Parse_V2Tcp4WithTrailingBytes_ConsumesExactly16PlusLength()
    {
        byte[] header = V2(0x21, 0x11, Concat(Inet4Block, Tlv(0x01, Ascii("h2"))));
        byte[] input = Concat(header, Trailer);
        ParseResult r = Parse.Run(input);
        Assert.Equal(ProxyParseStatus.Complete, r.Status);
        Assert.Equal(16 + 12 + 5, r.Header.Length);
        Assert.Equal(Trailer, input.AsSpan(r.Header.Length).ToArray());
    }

    [Theory]
    [InlineData(0x01)]
    [InlineData(0x11)]
    [InlineData(0x31)]
    [InlineData(0xF1)]
    [InlineData(0x00)]
    public void Parse_V2BadVersionNibble_IsInvalidAfter13Bytes(byte versionCommand)
    {
        byte[] input = Concat(Signature, [versionCommand]);
        Parse.Invalid(input, ProxyParseError.V2BadVersion);
        Parse.Invalid(Concat(input, [0x11, 0, 12], Inet4Block), ProxyParseError.V2BadVersion);
    }

    [Fact]
    public void Parse_V2Signature12Bytes_NeedsMoreData() => Parse.NeedMore(Signature);

    [Theory]
    [InlineData(0x22)]
    [InlineData(0x23)]
    [InlineData(0x2A)]
    [InlineData(0x2F)]
    public void Parse_V2BadCommand_IsInvalidBadCommand(byte versionCommand)
    {
        Parse.Invalid(Concat(Signature, [versionCommand]), ProxyParseError.V2BadCommand);
        Parse.Invalid(V2(versionCommand, 0x11, Inet4Block), ProxyParseError.V2BadCommand);
    }

    [Theory]
    [InlineData(0x41)]
    [InlineData(0x51)]
    [InlineData(0x80)]
    [InlineData(0xF1)]
    public void Parse_V2BadFamily_IsInvalidBadAddressFamily(byte familyTransport)
    {
        Parse.Invalid(Concat(Signature, [0x21, familyTransport]), ProxyParseError.V2BadAddressFamily);
        Parse.Invalid(V2(0x21, familyTransport, Inet6Block), ProxyParseError.V2BadAddressFamily);
    }

    [Theory]
    [InlineData(0x13)]
    [InlineData(0x14)]
    [InlineData(0x1F)]
    [InlineData(0x03)]
    [InlineData(0x2F)]
    public void Parse_V2BadTransport_IsInvalidBadTransport(byte familyTransport)
    {
        Parse.Invalid(Concat(Signature, [0x21, familyTransport]), ProxyParseError.V2BadTransport);
        Parse.Invalid(V2(0x21, familyTransport, Inet6Block), ProxyParseError.V2BadTransport);
    }

    [Theory]
    [InlineData(0x11, 0)]
    [InlineData(0x11, 11)]
    [InlineData(0x12, 11)]
    [InlineData(0x21, 12)]
    [InlineData(0x21, 35)]
    [InlineData(0x22, 35)]
    [InlineData(0x31, 215)]
    [InlineData(0x32, 0)]
    public void Parse_V2LengthShorterThanAddressBlock_IsInvalidAddressBlockTooShort(byte familyTransport, int length)
    {
        // Decided from the 16 fixed bytes alone.
        Parse.Invalid(V2WithLength(0x21, familyTransport, length), ProxyParseError.V2AddressBlockTooShort);
        Parse.Invalid(V2(0x21, familyTransport, new byte[length]), ProxyParseError.V2AddressBlockTooShort);
    }

    [Theory]
    [InlineData(0x01)]
    [InlineData(0x02)]
    [InlineData(0x10)]
    [InlineData(0x20)]
    [InlineData(0x30)]
    public void Parse_V2ProxyWithUndefinedFamilyTransportPair_IsInvalidBadAddressFamilyFromByte14(byte familyTransport)
    {
        // Spec 2.2: only 0x00, 0x11, 0x12, 0x21, 0x22, 0x31 and 0x32 are defined; "other values ... must be rejected as
        // invalid by receivers". Each nibble of these is valid on its own.
        Parse.Invalid(Concat(Signature, [0x21, familyTransport]), ProxyParseError.V2BadAddressFamily);
        Parse.Invalid(V2(0x21, familyTransport, Inet6Block), ProxyParseError.V2BadAddressFamily);
        Parse.Invalid(V2(0x21, familyTransport, new byte[216]), ProxyParseError.V2BadAddressFamily);
    }

    [Theory]
    [InlineData(0x00)]
    [InlineData(0x11)]
    [InlineData(0x12)]
    [InlineData(0x21)]
    [InlineData(0x22)]
    [InlineData(0x31)]
    [InlineData(0x32)]
    public void Parse_V2ProxyWithEachDefinedFamilyTransport_IsComplete(byte familyTransport)
    {
        byte[] header = V2(0x21, familyTransport, new byte[216]);
        ProxyHeader h = Parse.Complete(Concat(header, Trailer));
        Assert.Equal(header.Length, h.Length);
        Assert.Equal((ProxyAddressFamily)(familyTransport >> 4), h.AddressFamily);
        Assert.Equal((ProxyTransport)(familyTransport & 0x0F), h.Transport);
    }

    [Theory]
    [InlineData(0x13, 0)]
    [InlineData(0x13, 12)]
    [InlineData(0x41, 0)]
    [InlineData(0xFF, 0)]
    [InlineData(0xFF, 40)]
    [InlineData(0x01, 0)]
    [InlineData(0x10, 12)]
    [InlineData(0x11, 0)]
    [InlineData(0x11, 11)]
    [InlineData(0x21, 12)]
    [InlineData(0x31, 0)]
    [InlineData(0x31, 215)]
    public void Parse_V2LocalWithUndefinedFamilyOrShortBlock_IsCompleteLocalSkipping16PlusLength(byte familyTransport, int length)
    {
        // Spec 2.2: for LOCAL "the receiver must accept this connection as valid and must use the real connection
        // endpoints and discard the protocol block including the family which is ignored" (HAProxy does the same).
        byte[] block = new byte[length];
        new Random(length).NextBytes(block);
        byte[] header = V2(0x20, familyTransport, block);
        ProxyHeader h = Parse.Complete(Concat(header, Trailer));
        Assert.Equal(16 + length, h.Length);
        Assert.Equal(ProxyCommand.Local, h.Command);
        Assert.Equal(ProxyAddressFamily.Unspecified, h.AddressFamily);
        Assert.Equal(ProxyTransport.Unspecified, h.Transport);
        Assert.False(h.HasIPEndPoints);
        Assert.False(h.HasUnixAddresses);
        Assert.True(h.Tlvs.IsEmpty);
    }

    [Fact]
    public void Parse_V2LocalWithUndefinedFamily_NeedsOnlyItsDeclaredLength()
    {
        byte[] header = V2(0x20, 0x41, new byte[5]);
        for (int i = 13; i < header.Length; i++)
        {
            Parse.NeedMore(header[..i]);
        }

        Assert.Equal(header.Length, Parse.Complete(header).Length);
    }

    [Fact]
    public void Parse_V2LocalWithAddressesAndWrongCrc32C_IsInvalidCrc32CMismatch()
    {
        byte[] unsigned = V2(0x20, 0x11, Concat(Inet4Block, Tlv(0x03, 0, 0, 0, 0)));
        byte[] header = WithCrc(unsigned, unsigned.Length - 4);
        header[^1] ^= 0x01;
        Parse.Invalid(header, ProxyParseError.V2Crc32CMismatch);
    }

    [Fact]
    public void Parse_V2LocalWithAddressesAndCorrectCrc32C_IsCompleteWithTlvs()
    {
        byte[] unsigned = V2(0x20, 0x21, Concat(Inet6Block, Tlv(0x01, Ascii("h2")), Tlv(0x03, 0, 0, 0, 0)));
        byte[] header = WithCrc(unsigned, unsigned.Length - 4);
        ProxyHeader h = Parse.Complete(Concat(header, Trailer));
        Assert.Equal(header.Length, h.Length);
        Assert.Equal(ProxyAddressFamily.InterNetworkV6, h.AddressFamily);
        Assert.True(h.TryGetAlpn(out var alpn));
        Assert.Equal("h2", Text(alpn));
    }

    [Theory]
    [InlineData(new byte[] { 0x01, 0x00, 0x09, 0x68 })]
    [InlineData(new byte[] { 0x04 })]
    [InlineData(new byte[] { 0x04, 0x00 })]
    [InlineData(new byte[] { 0x04, 0x00, 0x00, 0x03, 0xFF, 0xFF })]
    public void Parse_V2LocalWithMalformedTlvArea_IsCompleteLocalWithoutTlvs(byte[] tlvArea)
    {
        // A TLV area that does not split exactly into TLVs is part of the discarded protocol block under LOCAL.
        foreach (byte[] header in (byte[][])[V2(0x20, 0x00, tlvArea), V2(0x20, 0x11, Concat(Inet4Block, tlvArea))])
        {
            ProxyHeader h = Parse.Complete(Concat(header, Trailer));
            Assert.Equal(header.Length, h.Length);
            Assert.Equal(ProxyCommand.Local, h.Command);
            Assert.True(h.Tlvs.IsEmpty);
        }
    }

    [Fact]
    public void Parse_V2LocalWithWellFormedButInvalidTlvs_IsInvalidAsUnderProxy()
    {
        Parse.Invalid(V2(0x20, 0x00, Tlv(0x05, new byte[129])), ProxyParseError.V2UniqueIdTooLong);
        Parse.Invalid(V2(0x20, 0x00, Tlv(0x20, 1, 0, 0, 0)), ProxyParseError.V2BadSslTlv);
        Parse.Invalid(V2(0x20, 0x00, Tlv(0x03, 0, 0, 0)), ProxyParseError.V2BadCrc32CTlv);
    }

    [Fact]
    public void Parse_V2HeaderClaiming65535With16BytesOnly_IsInvalidHeaderTooLarge()
    {
        byte[] fixedPart = V2WithLength(0x21, 0x11, 65535);
        Assert.Equal(16, fixedPart.Length);
        var options = new ProxyHeaderParserOptions { MaxHeaderSize = 4096 };
        ParseResult r = Parse.Run(fixedPart, options);
        Assert.Equal((ProxyParseStatus.Invalid, ProxyParseError.V2HeaderTooLarge), (r.Status, r.Error));
        Parse.Invalid(fixedPart, ProxyParseError.V2HeaderTooLarge);
    }

    [Fact]
    public void Parse_V2HeaderAtMaxHeaderSize_IsAcceptedAndOneAboveIsRejected()
    {
        var options = new ProxyHeaderParserOptions { MaxHeaderSize = 4096 };
        byte[] atLimit = V2(0x21, 0x11, Concat(Inet4Block, Tlv(0x04, new byte[4096 - 16 - 12 - 3])));
        Assert.Equal(4096, atLimit.Length);
        Assert.Equal(ProxyParseStatus.Complete, Parse.Run(atLimit, options).Status);

        byte[] above = V2(0x21, 0x11, Concat(Inet4Block, Tlv(0x04, new byte[4096 - 16 - 12 - 2])));
        ParseResult r = Parse.Run(above, options);
        Assert.Equal((ProxyParseStatus.Invalid, ProxyParseError.V2HeaderTooLarge), (r.Status, r.Error));
    }

    [Fact]
    public void Parse_V2MaxHeaderSizeMaximum_AcceptsLargestHeader()
    {
        var options = new ProxyHeaderParserOptions { MaxHeaderSize = ProxyHeaderParserOptions.MaxMaxHeaderSize };
        byte[] largest = V2(0x21, 0x11, Concat(Inet4Block, Tlv(0x04, new byte[65535 - 12 - 3])));
        Assert.Equal(ProxyHeaderParser.V2MaxLength, largest.Length);
        ParseResult r = Parse.Run(largest, options);
        Assert.Equal(ProxyParseStatus.Complete, r.Status);
        Assert.Equal(largest.Length, r.Header.Length);
    }

    [Fact]
    public void Parse_V2MaxHeaderSizeBelowMinimum_IsClampedToIpv6HeaderSize()
    {
        var options = new ProxyHeaderParserOptions { MaxHeaderSize = 1 };
        Assert.Equal(ProxyParseStatus.Complete, Parse.Run(V2(0x21, 0x21, Inet6Block), options).Status);
        ParseResult r = Parse.Run(V2(0x21, 0x21, Concat(Inet6Block, [0x04, 0, 0])), options);
        Assert.Equal(ProxyParseError.V2HeaderTooLarge, r.Error);
    }

    [Fact]
    public void Parse_V2IncompleteBody_NeedsMoreData()
    {
        byte[] header = V2(0x21, 0x11, Inet4Block);
        for (int n = 13; n < header.Length; n++)
        {
            Parse.NeedMore(header[..n]);
        }
    }

    [Fact]
    public void Parse_V2TlvValueRunsPast_IsInvalidTlvTruncated()
    {
        byte[] body = Concat(Inet4Block, [0x01, 0x00, 0x05, (byte)'h', (byte)'2']);
        Parse.Invalid(V2(0x21, 0x11, body), ProxyParseError.V2TlvTruncated);
    }

    [Theory]
    [InlineData(1)]
    [InlineData(2)]
    public void Parse_V2TlvHeaderLeftover_IsInvalidTlvTruncated(int leftover)
    {
        byte[] body = Concat(Inet4Block, Tlv(0x01, Ascii("h2")), new byte[leftover]);
        Parse.Invalid(V2(0x21, 0x11, body), ProxyParseError.V2TlvTruncated);
    }

    [Fact]
    public void Parse_V2EmptyTlvValue_IsAccepted()
    {
        ProxyHeader h = Parse.Complete(V2(0x21, 0x11, Concat(Inet4Block, Tlv(0x04))));
        Assert.Equal(1, h.Tlvs.Count());
    }

    private static byte[] WithCrcTlv(byte familyTransport, byte[] block, byte[] before, byte[] after)
    {
        byte[] header = V2(0x21, familyTransport, Concat(block, before, Tlv(0x03, 0, 0, 0, 0), after));
        return WithCrc(header, 16 + block.Length + before.Length + 3);
    }

    [Fact]
    public void Parse_V2CorrectCrc32C_IsAccepted()
    {
        byte[] header = WithCrcTlv(0x11, Inet4Block, Tlv(0x01, Ascii("h2")), Tlv(0x02, Ascii("example.com")));
        ProxyHeader h = Parse.Complete(Concat(header, Trailer));
        Assert.Equal(header.Length, h.Length);
        Assert.True(h.TryGetCrc32C(out uint crc));
        int offset = 16 + 12 + 5 + 3;
        uint expected = (uint)((header[offset] << 24) | (header[offset + 1] << 16) | (header[offset + 2] << 8) | header[offset + 3]);
        Assert.Equal(expected, crc);
        Assert.NotEqual(0u, crc);
    }

    [Fact]
    public void Parse_V2CorrectCrc32COnLocalUnspec_IsAccepted()
    {
        byte[] header = WithCrc(V2(0x20, 0x00, Tlv(0x03, 0, 0, 0, 0)), 19);
        Assert.Equal(header.Length, Parse.Complete(header).Length);
    }

    [Fact]
    public void Parse_V2WrongCrc32C_IsInvalidMismatch()
    {
        byte[] header = WithCrcTlv(0x21, Inet6Block, [], Tlv(0x05, Ascii("id")));
        header[16 + 36 + 3] ^= 0x01;
        Parse.Invalid(header, ProxyParseError.V2Crc32CMismatch);
    }

    [Fact]
    public void Parse_V2CorrectCrcButBodyAltered_IsInvalidMismatch()
    {
        byte[] header = WithCrcTlv(0x11, Inet4Block, [], []);
        header[16] ^= 0x80; // source address byte
        Parse.Invalid(header, ProxyParseError.V2Crc32CMismatch);
    }

    [Fact]
    public void Parse_V2ZeroCrc32CValue_IsInvalidMismatch()
    {
        // Not computed at all: the field left at zero.
        byte[] header = V2(0x21, 0x11, Concat(Inet4Block, Tlv(0x03, 0, 0, 0, 0)));
        Parse.Invalid(header, ProxyParseError.V2Crc32CMismatch);
    }

    [Theory]
    [InlineData(0)]
    [InlineData(3)]
    [InlineData(5)]
    [InlineData(8)]
    public void Parse_V2Crc32CTlvWrongLength_IsInvalidBadCrc32CTlv(int length) =>
        Parse.Invalid(V2(0x21, 0x11, Concat(Inet4Block, Tlv(0x03, new byte[length]))), ProxyParseError.V2BadCrc32CTlv);

    [Fact]
    public void Parse_V2DuplicatedCrc32CTlv_IsInvalidBadCrc32CTlv()
    {
        byte[] header = V2(0x21, 0x11, Concat(Inet4Block, Tlv(0x03, 0, 0, 0, 0), Tlv(0x03, 0, 0, 0, 0)));
        Parse.Invalid(header, ProxyParseError.V2BadCrc32CTlv);
    }

    [Fact]
    public void Parse_V2UniqueId128Bytes_IsAccepted()
    {
        byte[] id = Enumerable.Range(0, 128).Select(i => (byte)i).ToArray();
        ProxyHeader h = Parse.Complete(V2(0x21, 0x11, Concat(Inet4Block, Tlv(0x05, id))));
        Assert.True(h.TryGetUniqueId(out var value));
        Assert.Equal(id, value.ToArray());
    }

    [Fact]
    public void Parse_V2UniqueId129Bytes_IsInvalidUniqueIdTooLong() =>
        Parse.Invalid(V2(0x21, 0x11, Concat(Inet4Block, Tlv(0x05, new byte[129]))), ProxyParseError.V2UniqueIdTooLong);

    [Theory]
    [InlineData(0)]
    [InlineData(1)]
    [InlineData(4)]
    public void Parse_V2SslTlvShorterThan5_IsInvalidBadSslTlv(int length) =>
        Parse.Invalid(V2(0x21, 0x11, Concat(Inet4Block, Tlv(0x20, new byte[length]))), ProxyParseError.V2BadSslTlv);

    [Fact]
    public void Parse_V2SslSubTlvRunsPast_IsInvalidBadSslTlv()
    {
        // client=1, verify=0, sub-TLV VERSION claiming 10 bytes but holding 3.
        byte[] ssl = Concat([0x01, 0, 0, 0, 0], [0x21, 0x00, 0x0A], Ascii("TLS"));
        Parse.Invalid(V2(0x21, 0x11, Concat(Inet4Block, Tlv(0x20, ssl))), ProxyParseError.V2BadSslTlv);
    }

    [Theory]
    [InlineData(1)]
    [InlineData(2)]
    public void Parse_V2SslSubTlvHeaderLeftover_IsInvalidBadSslTlv(int leftover)
    {
        byte[] ssl = Concat([0x01, 0, 0, 0, 0], Tlv(0x21, Ascii("TLSv1.3")), new byte[leftover]);
        Parse.Invalid(V2(0x21, 0x11, Concat(Inet4Block, Tlv(0x20, ssl))), ProxyParseError.V2BadSslTlv);
    }

    [Fact]
    public void Parse_V2SslWithExactly5Bytes_IsAccepted()
    {
        ProxyHeader h = Parse.Complete(V2(0x21, 0x11, Concat(Inet4Block, Tlv(0x20, 0x05, 0, 0, 0, 0))));
        Assert.True(h.TryGetSsl(out ProxySslTlv ssl));
        Assert.True(ssl.SubTlvs.IsEmpty);
    }

    [Fact]
    public void Parse_V2WithV1OnlyAllowed_IsInvalidV2NotAllowed()
    {
        var options = new ProxyHeaderParserOptions { AllowedVersions = ProxyProtocolVersions.V1 };
        ParseResult r = Parse.Run(V2(0x21, 0x11, Inet4Block), options);
        Assert.Equal((ProxyParseStatus.Invalid, ProxyParseError.V2NotAllowed), (r.Status, r.Error));
        r = Parse.Run(Signature[..4], options);
        Assert.Equal((ProxyParseStatus.Invalid, ProxyParseError.V2NotAllowed), (r.Status, r.Error));
    }

    [Fact]
    public void Parse_V1WithV2OnlyAllowed_IsInvalidV1NotAllowed()
    {
        var options = new ProxyHeaderParserOptions { AllowedVersions = ProxyProtocolVersions.V2 };
        ParseResult r = Parse.Run(Ascii("PROXY TCP4 192.168.0.1 192.168.0.11 56324 443\r\n"), options);
        Assert.Equal((ProxyParseStatus.Invalid, ProxyParseError.V1NotAllowed), (r.Status, r.Error));
        r = Parse.Run(Ascii("PROX"), options);
        Assert.Equal((ProxyParseStatus.Invalid, ProxyParseError.V1NotAllowed), (r.Status, r.Error));
    }

    [Fact]
    public void Parse_V2WithV2OnlyAllowed_IsComplete()
    {
        var options = new ProxyHeaderParserOptions { AllowedVersions = ProxyProtocolVersions.V2 };
        Assert.Equal(ProxyParseStatus.Complete, Parse.Run(V2(0x21, 0x11, Inet4Block), options).Status);
    }

    [Fact]
    public void Parse_WithDefaultOptionsStruct_BehavesLikeDefault()
    {
        ProxyHeaderParserOptions options = default;
        Assert.Equal(ProxyProtocolVersions.All, options.AllowedVersions);
        Assert.Equal(ProxyHeaderParserOptions.DefaultMaxHeaderSize, options.MaxHeaderSize);
        Assert.Equal(ProxyParseStatus.Complete, Parse.Run(V2(0x21, 0x11, Inet4Block), options).Status);
        Assert.Equal(ProxyParseStatus.Complete, Parse.Run(Ascii("PROXY UNKNOWN\r\n"), options).Status);
    }

    [Fact]
    public void Parse_WithNoVersionAllowed_RefusesBoth()
    {
        var options = new ProxyHeaderParserOptions { AllowedVersions = ProxyProtocolVersions.None };
        Assert.Equal(ProxyParseError.V2NotAllowed, Parse.Run(V2(0x21, 0x11, Inet4Block), options).Error);
        Assert.Equal(ProxyParseError.V1NotAllowed, Parse.Run(Ascii("PROXY UNKNOWN\r\n"), options).Error);
    }

    [Fact]
    public void Parse_V2UnknownTlvTypes_AreAcceptedAndExposedInOrder()
    {
        byte[] body = Concat(Inet4Block, Tlv(0xF8, 1), Tlv(0x99, 2, 3), Tlv(0xFF));
        ProxyHeader h = Parse.Complete(V2(0x21, 0x11, body));
        var types = new List<byte>();
        foreach (ProxyTlv tlv in h.Tlvs)
        {
            types.Add(tlv.Type);
        }

        Assert.Equal(new byte[] { 0xF8, 0x99, 0xFF }, types);
    }

    [Fact]
    public void Parse_V2ToString_MentionsEndpointsOrCommand()
    {
        Assert.Contains("192.168.0.1:56324", Parse.Complete(V2(0x21, 0x11, Inet4Block)).ToString(), StringComparison.Ordinal);
        Assert.Contains("Local", Parse.Complete(V2(0x20, 0x00)).ToString(), StringComparison.Ordinal);
    }
}
