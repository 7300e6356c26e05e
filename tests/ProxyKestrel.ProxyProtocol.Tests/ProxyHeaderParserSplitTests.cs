using System.Buffers;
using ProxyKestrel.ProxyProtocol.Tests.Infrastructure;
using ProxyKestrel.Testing;
using static ProxyKestrel.ProxyProtocol.Tests.Infrastructure.Bytes;

namespace ProxyKestrel.ProxyProtocol.Tests;

public class ProxyHeaderParserSplitTests
{
    private static readonly byte[] HttpTrailer = Ascii("GET / HTTP/1.1\r\n");
    private static readonly byte[] TlsTrailer = [0x16, 0x03, 0x01, 0x02, 0x00, 0x01, 0x00, 0x01, 0xFC, 0x03, 0x03];

    private static readonly Dictionary<string, byte[]> ValidHeaders = new()
    {
        ["v1 tcp4"] = Ascii("PROXY TCP4 192.168.0.1 192.168.0.11 56324 443\r\n"),
        ["v1 tcp6"] = Ascii("PROXY TCP6 2001:db8::1 ffff:ffff:ffff:ffff:ffff:ffff:255.255.255.255 65535 0\r\n"),
        ["v1 unknown"] = Ascii("PROXY UNKNOWN\r\n"),
        ["v1 unknown long"] = Ascii("PROXY UNKNOWN 1.2.3.4 whatever\r\n"),
        ["v2 tcp4"] = V2(0x21, 0x11, Inet4Block),
        ["v2 tcp6 tlvs"] = WithCrc(
            V2(0x21, 0x21, Concat(
                Inet6Block,
                Tlv(0x01, Ascii("h2")),
                Tlv(0x02, Ascii("example.com")),
                Tlv(0x03, 0, 0, 0, 0),
                Tlv(0x20, Concat([0x07, 0, 0, 0, 0], Tlv(0x21, Ascii("TLSv1.3")), Tlv(0x22, Ascii("cn")))),
                Tlv(0x05, new byte[40]),
                Tlv(0xEA, Concat([0x01], Ascii("vpce-08d2bf15fac5001c9"))))),
            16 + 36 + 5 + 14 + 3),
        ["v2 unix"] = V2(0x21, 0x31, Concat(UnixBlock("/run/a.sock", "/run/b.sock"), Tlv(0x04, 0))),
        ["v2 local"] = V2(0x20, 0x00, Tlv(0xE1, 1, 2, 3)),
    };

    private static readonly Dictionary<string, byte[]> InvalidHeaders = new()
    {
        ["v1 bad octet"] = Ascii("PROXY TCP4 256.0.0.1 1.2.3.4 1 2\r\nGET"),
        ["v1 double space"] = Ascii("PROXY TCP4 1.2.3.4  1.2.3.4 1 2\r\n"),
        ["v1 lf only"] = Ascii("PROXY TCP4 1.2.3.4 1.2.3.4 1 2\nGET"),
        ["v1 bad char"] = Ascii("PROXY TCP4 1.2.3.4 1.2.3.4 1 2x\r\n"),
        ["v1 tcp5"] = Ascii("PROXY TCP5 1.2.3.4 1.2.3.4 1 2\r\n"),
        ["v1 unknownx"] = Ascii("PROXY UNKNOWNX\r\n"),
        ["v1 too long"] = Ascii("PROXY UNKNOWN " + new string('z', 100)),
        ["not proxy"] = Ascii("GET / HTTP/1.1\r\n"),
        ["v2 bad version"] = V2(0x11, 0x11, Inet4Block),
        ["v2 bad command"] = V2(0x25, 0x11, Inet4Block),
        ["v2 bad family"] = V2(0x21, 0x41, Inet4Block),
        ["v2 too short"] = V2(0x21, 0x21, Inet4Block),
        ["v2 too large"] = V2WithLength(0x21, 0x11, 60000, Inet4Block),
        ["v2 tlv truncated"] = V2(0x21, 0x11, Concat(Inet4Block, [0x01, 0x00, 0x09, 0x68])),
        ["v2 crc mismatch"] = V2(0x21, 0x11, Concat(Inet4Block, Tlv(0x03, 1, 2, 3, 4))),
        ["v2 bad ssl"] = V2(0x21, 0x11, Concat(Inet4Block, Tlv(0x20, 1, 0, 0, 0, 0, 0x21, 0, 9))),
        ["v2 bad signature"] = Concat(Signature[..7], [0x52], Signature[8..], [0x21, 0x11, 0, 12], Inet4Block),
    };

    public static TheoryData<string> ValidNames => new(ValidHeaders.Keys);

    public static TheoryData<string> InvalidNames => new(InvalidHeaders.Keys);

    public static TheoryData<string, bool> ValidNamesWithTrailer()
    {
        var data = new TheoryData<string, bool>();
        foreach (string name in ValidHeaders.Keys)
        {
            data.Add(name, false);
            data.Add(name, true);
        }

        return data;
    }

    private static byte[] Input(string name, bool tls) => Concat(ValidHeaders[name], tls ? TlsTrailer : HttpTrailer);

    [Theory]
    [MemberData(nameof(ValidNamesWithTrailer))]
    public void Parse_EveryPrefixOfValidHeader_NeedsMoreDataThenCompleteWithTrailerUntouched(string name, bool tls)
    {
        byte[] header = ValidHeaders[name];
        byte[] input = Input(name, tls);
        for (int n = 0; n < header.Length; n++)
        {
            ParseResult r = Parse.Run(input[..n]);
            Assert.True(r.Status == ProxyParseStatus.NeedMoreData, $"{name}: prefix {n} gave {r.Status} {r.Error}");
        }

        var whole = new ReadOnlySequence<byte>(input);
        ParseResult done = Parse.Run(whole);
        Assert.Equal(ProxyParseStatus.Complete, done.Status);
        Assert.Equal(header.Length, done.Header.Length);
        Assert.Equal(header, done.Header.RawBytes.ToArray());
        Assert.Equal(input[header.Length..], whole.Slice(done.Header.Length).ToArray());

        // Exactly the header (no trailing byte) is complete too.
        Assert.Equal(header.Length, Parse.Complete(header).Length);
    }

    [Theory]
    [MemberData(nameof(ValidNamesWithTrailer))]
    public void Parse_ValidHeaderSplitInTwoAtEveryPosition_DecodesTheSame(string name, bool tls)
    {
        byte[] input = Input(name, tls);
        string expected = Parse.Describe(Parse.Complete(input));
        for (int cut = 0; cut <= input.Length; cut++)
        {
            ParseResult r = Parse.Run(Sequences.Split(input, cut));
            Assert.True(r.Status == ProxyParseStatus.Complete, $"{name}: cut {cut} gave {r.Status} {r.Error}");
            Assert.Equal(expected, Parse.Describe(r.Header));
        }
    }

    [Theory]
    [MemberData(nameof(ValidNamesWithTrailer))]
    public void Parse_ValidHeaderInOneByteSegments_DecodesTheSame(string name, bool tls)
    {
        byte[] input = Input(name, tls);
        string expected = Parse.Describe(Parse.Complete(input));
        ReadOnlySequence<byte> sequence = Sequences.Bytewise(input);
        Assert.False(sequence.IsSingleSegment);
        ParseResult r = Parse.Run(sequence);
        Assert.Equal(ProxyParseStatus.Complete, r.Status);
        Assert.Equal(expected, Parse.Describe(r.Header));
        Assert.Equal(input[r.Header.Length..], sequence.Slice(r.Header.Length).ToArray());

        // Every prefix of the one-byte-segment form also waits.
        for (int n = 0; n < ValidHeaders[name].Length; n++)
        {
            Assert.Equal(ProxyParseStatus.NeedMoreData, Parse.Run(sequence.Slice(0, n)).Status);
        }
    }

    [Theory]
    [MemberData(nameof(ValidNamesWithTrailer))]
    public void Parse_ValidHeaderInThreeRandomSegments_DecodesTheSame(string name, bool tls)
    {
        byte[] input = Input(name, tls);
        string expected = Parse.Describe(Parse.Complete(input));
        var random = new Random(20240611);
        for (int i = 0; i < 200; i++)
        {
            int a = random.Next(input.Length + 1);
            int b = random.Next(input.Length + 1);
            ParseResult r = Parse.Run(Sequences.Split(input, Math.Min(a, b), Math.Max(a, b)));
            Assert.True(r.Status == ProxyParseStatus.Complete, $"{name}: cuts {a},{b} gave {r.Status} {r.Error}");
            Assert.Equal(expected, Parse.Describe(r.Header));
        }
    }

    [Theory]
    [MemberData(nameof(ValidNames))]
    public void Parse_ValidHeaderWithEmptySegments_DecodesTheSame(string name)
    {
        byte[] input = ValidHeaders[name];
        string expected = Parse.Describe(Parse.Complete(input));
        ParseResult r = Parse.Run(Sequences.Split(input, 0, 0, 1, 1, input.Length / 2, input.Length / 2, input.Length));
        Assert.Equal(ProxyParseStatus.Complete, r.Status);
        Assert.Equal(expected, Parse.Describe(r.Header));
    }

    [Theory]
    [MemberData(nameof(InvalidNames))]
    public void Parse_InvalidHeaderSplitAtEveryPosition_SameReasonNeverComplete(string name)
    {
        byte[] input = InvalidHeaders[name];
        ParseResult whole = Parse.Run(input);
        Assert.Equal(ProxyParseStatus.Invalid, whole.Status);

        for (int cut = 0; cut <= input.Length; cut++)
        {
            ParseResult split = Parse.Run(Sequences.Split(input, cut));
            Assert.Equal((whole.Status, whole.Error), (split.Status, split.Error));

            // Prefixes: still waiting, or already invalid for the same reason; never complete.
            ParseResult prefix = Parse.Run(Sequences.Split(input.AsSpan(0, cut), cut / 2));
            Assert.True(
                prefix.Status == ProxyParseStatus.NeedMoreData
                || (prefix.Status == ProxyParseStatus.Invalid && prefix.Error == whole.Error),
                $"{name}: prefix {cut} gave {prefix.Status} {prefix.Error}, whole gave {whole.Error}");
        }

        ParseResult bytewise = Parse.Run(Sequences.Bytewise(input));
        Assert.Equal((whole.Status, whole.Error), (bytewise.Status, bytewise.Error));
    }

    [Fact]
    public void Parse_PrefixInvalidity_IsMonotonic()
    {
        // Once a prefix is invalid, every longer prefix is invalid for the same reason.
        foreach ((string name, byte[] input) in InvalidHeaders)
        {
            ProxyParseError? first = null;
            for (int n = 1; n <= input.Length; n++)
            {
                ParseResult r = Parse.Run(input[..n]);
                if (first is { } reason)
                {
                    Assert.True(r.Status == ProxyParseStatus.Invalid && r.Error == reason, $"{name}: prefix {n} gave {r.Status} {r.Error} after {reason}");
                }
                else if (r.Status == ProxyParseStatus.Invalid)
                {
                    first = r.Error;
                }
            }

            Assert.NotNull(first);
        }
    }
}
