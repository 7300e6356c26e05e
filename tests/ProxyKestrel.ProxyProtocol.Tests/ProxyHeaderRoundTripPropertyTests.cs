using System.Buffers;
using System.Net;
using CsCheck;
using ProxyKestrel.ProxyProtocol.Tests.Infrastructure;
using ProxyKestrel.Testing;
using static ProxyKestrel.ProxyProtocol.Tests.Infrastructure.Bytes;

namespace ProxyKestrel.ProxyProtocol.Tests;

public class ProxyHeaderRoundTripPropertyTests
{
    private const int Iterations = 2000;

    private static readonly Gen<IPAddress> GenIPv4 = Gen.Byte.Array[4].Select(b => new IPAddress(b));

    private static readonly Gen<IPAddress> GenIPv6 = Gen.OneOf(
        Gen.Byte.Array[16],
        // Runs of zeros so that "::" compression is exercised.
        Gen.Select(Gen.Byte.Array[16], Gen.Int[0, 15], Gen.Int[0, 16], (b, start, count) =>
        {
            Array.Clear(b, start, Math.Min(count, 16 - start));
            return b;
        })).Select(b => new IPAddress(b));

    private static readonly Gen<IPAddress> GenAddress = Gen.Frequency((2, GenIPv4), (2, GenIPv6), (1, GenIPv4.Select(a => a.MapToIPv6())));

    private static readonly Gen<int> GenPort = Gen.Frequency((4, Gen.Int[0, 65535]), (1, Gen.OneOfConst(0, 1, 65535)));

    /// <summary>One generated top-level TLV: ALPN, AUTHORITY, NOOP, UNIQUE_ID (≤ 128), NETNS, custom or experimental.</summary>
    private static readonly Gen<(byte Type, byte[] Value)> GenTlv = Gen.Select(
        Gen.Int[0, 6], Gen.Byte.Array[0, 128], Gen.Byte[0xE0, 0xEF], Gen.Byte[0xF0, 0xF7],
        (kind, value, custom, experimental) => kind switch
        {
            0 => ((byte)0x01, value),
            1 => ((byte)0x02, value),
            2 => ((byte)0x04, new byte[value.Length]),
            3 => ((byte)0x05, value),
            4 => ((byte)0x30, value),
            5 => (custom, value),
            _ => (experimental, value),
        });

    private static readonly Gen<(byte Type, byte[] Value)> GenSubTlv = Gen.Select(Gen.Byte[0x21, 0x28], Gen.Byte.Array[0, 64], (t, v) => (t, v));

    private sealed record V2Case(
        IPAddress Source, int SourcePort, IPAddress Destination, int DestinationPort, bool Datagram,
        (byte Type, byte[] Value)[] Tlvs, int CrcAt, bool Ssl, byte SslClient, uint SslVerify, (byte Type, byte[] Value)[] SubTlvs);

    private static readonly Gen<V2Case> GenV2Case = Gen.Select(
        Gen.Select(GenAddress, GenPort, GenAddress, GenPort, Gen.Bool),
        GenTlv.Array[0, 6],
        Gen.Int[-1, 7],
        Gen.Select(Gen.Bool, Gen.Byte[0, 7], Gen.UInt, GenSubTlv.Array[0, 5]),
        (ep, tlvs, crcAt, ssl) => new V2Case(
            ep.Item1, ep.Item2, ep.Item3, ep.Item4, ep.Item5, tlvs, crcAt, ssl.Item1, ssl.Item2, ssl.Item3, ssl.Item4));

    private static bool IsV4(IPAddress a) => a.AddressFamily == System.Net.Sockets.AddressFamily.InterNetwork || a.IsIPv4MappedToIPv6;

    private static IPAddress Expected(IPAddress address, bool inet) =>
        inet ? (address.IsIPv4MappedToIPv6 ? address.MapToIPv4() : address) : (address.AddressFamily == System.Net.Sockets.AddressFamily.InterNetwork ? address.MapToIPv6() : address);

    [Fact]
    public void WriteV1ThenParse_RandomEndpoints_RoundTrips()
    {
        Gen.Select(GenAddress, GenPort, GenAddress, GenPort).Sample((src, sport, dst, dport) =>
        {
            byte[] buffer = new byte[ProxyHeaderWriter.V1MaxLength];
            Assert.True(ProxyHeaderWriter.TryWriteV1(buffer, src, sport, dst, dport, out int written));
            byte[] input = Concat(buffer[..written], HttpRequest);
            ProxyHeader h = Parse.Complete(input);

            bool inet = IsV4(src) && IsV4(dst);
            Assert.Equal(written, h.Length);
            Assert.Equal(inet ? ProxyAddressFamily.InterNetwork : ProxyAddressFamily.InterNetworkV6, h.AddressFamily);
            Assert.Equal(new IPEndPoint(Expected(src, inet), sport), h.GetSourceEndPoint());
            Assert.Equal(new IPEndPoint(Expected(dst, inet), dport), h.GetDestinationEndPoint());

            // Also the same when split in two anywhere.
            int cut = (sport + dport) % (input.Length + 1);
            Assert.Equal(Parse.Describe(h), Parse.Describe(Parse.Run(Sequences.Split(input, cut)).Header));
        }, iter: Iterations, threads: 1);
    }

    private static readonly byte[] HttpRequest = Ascii("GET / HTTP/1.1\r\n");

    [Fact]
    public void WriteV2ThenParse_RandomTlvs_RoundTripsInOrder()
    {
        GenV2Case.Sample(c =>
        {
            byte[] buffer = new byte[8192];
            var expectedTlvs = new List<(byte, string)>();
            var writer = ProxyV2HeaderWriter.Proxy(buffer, c.Source, c.SourcePort, c.Destination, c.DestinationPort, c.Datagram ? ProxyTransport.Datagram : ProxyTransport.Stream);
            if (c.Ssl)
            {
                writer.BeginSsl((ProxySslClient)c.SslClient, c.SslVerify);
                foreach ((byte type, byte[] value) in c.SubTlvs)
                {
                    writer.AddSslSubTlv((ProxyTlvType)type, value);
                }

                writer.EndSsl();
                expectedTlvs.Add((0x20, "ssl"));
            }

            for (int i = 0; i <= c.Tlvs.Length; i++)
            {
                if (i == c.CrcAt || (i == c.Tlvs.Length && c.CrcAt >= c.Tlvs.Length))
                {
                    writer.AddCrc32C();
                    expectedTlvs.Add((0x03, "crc"));
                }

                if (i < c.Tlvs.Length)
                {
                    (byte type, byte[] value) = c.Tlvs[i];
                    if (type == 0x04)
                    {
                        writer.AddNoop(value.Length);
                    }
                    else
                    {
                        writer.AddTlv(type, value);
                    }

                    expectedTlvs.Add((type, Convert.ToHexString(value)));
                }
            }

            int n = writer.Complete();
            byte[] input = Concat(buffer[..n], HttpRequest);
            ProxyHeader h = Parse.Complete(input);

            bool inet = IsV4(c.Source) && IsV4(c.Destination);
            Assert.Equal(n, h.Length);
            Assert.Equal(c.Datagram ? ProxyTransport.Datagram : ProxyTransport.Stream, h.Transport);
            Assert.Equal(new IPEndPoint(Expected(c.Source, inet), c.SourcePort), h.GetSourceEndPoint());
            Assert.Equal(new IPEndPoint(Expected(c.Destination, inet), c.DestinationPort), h.GetDestinationEndPoint());

            var actual = new List<(byte, string)>();
            foreach (ProxyTlv tlv in h.Tlvs)
            {
                actual.Add((tlv.Type, tlv.Type switch
                {
                    0x20 => "ssl",
                    0x03 => "crc",
                    _ => Convert.ToHexString(tlv.Value.ToArray()),
                }));
            }

            Assert.Equal(expectedTlvs, actual);
            bool hasCrc = c.CrcAt >= 0;
            Assert.Equal(hasCrc, h.TryGetCrc32C(out uint crc));
            if (hasCrc)
            {
                int at = input.AsSpan(0, n).IndexOf(new byte[] { 0x03, 0x00, 0x04, (byte)(crc >> 24), (byte)(crc >> 16), (byte)(crc >> 8), (byte)crc });
                Assert.True(at >= 0);
                byte[] corrupted = (byte[])input.Clone();
                corrupted[at + 3] ^= 0x01;
                Parse.Invalid(corrupted, ProxyParseError.V2Crc32CMismatch);
            }

            Assert.Equal(c.Ssl, h.TryGetSsl(out ProxySslTlv ssl));
            if (c.Ssl)
            {
                Assert.Equal((ProxySslClient)c.SslClient, ssl.Client);
                Assert.Equal(c.SslVerify, ssl.Verify);
                var subs = new List<(byte, string)>();
                foreach (ProxyTlv sub in ssl.SubTlvs)
                {
                    subs.Add((sub.Type, Convert.ToHexString(sub.Value.ToArray())));
                }

                Assert.Equal(c.SubTlvs.Select(s => (s.Type, Convert.ToHexString(s.Value))), subs);
            }

            // Splitting the input anywhere decodes the same.
            int cut = (int)((uint)(c.SourcePort * 31 + c.DestinationPort) % (uint)(input.Length + 1));
            Assert.Equal(Parse.Describe(h), Parse.Describe(Parse.Run(Sequences.Split(input, cut)).Header));
        }, iter: Iterations, threads: 1);
    }

    private static readonly Gen<byte[]> GenValidHeader = Gen.OneOf(
        Gen.Select(GenAddress, GenPort, GenAddress, GenPort).Select((s, sp, d, dp) =>
        {
            byte[] buffer = new byte[ProxyHeaderWriter.V1MaxLength];
            ProxyHeaderWriter.TryWriteV1(buffer, s, sp, d, dp, out int n);
            return buffer[..n];
        }),
        Gen.Select(GenAddress, GenPort, GenAddress, GenPort, GenTlv.Array[0, 4], Gen.Bool, GenSubTlv.Array[0, 3]).Select((s, sp, d, dp, tlvs, crc, subs) =>
        {
            byte[] buffer = new byte[4096];
            var writer = ProxyV2HeaderWriter.Proxy(buffer, s, sp, d, dp);
            foreach ((byte type, byte[] value) in tlvs)
            {
                writer.AddTlv(type, value);
            }

            if (subs.Length > 0)
            {
                writer.BeginSsl(ProxySslClient.Ssl, 0);
                foreach ((byte type, byte[] value) in subs)
                {
                    writer.AddSslSubTlv((ProxyTlvType)type, value);
                }

                writer.EndSsl();
            }

            if (crc)
            {
                writer.AddCrc32C();
            }

            return buffer[..writer.Complete()];
        }),
        Gen.Const(Ascii("PROXY UNKNOWN\r\n")),
        Gen.Const(V2(0x20, 0x00)),
        Gen.Const(V2(0x21, 0x31, UnixBlock("/a", "/b"))));

    private static readonly Gen<byte[]> GenMutated = Gen.Select(GenValidHeader, Gen.Int[0, 3], Gen.Int[1, 4], Gen.Int, Gen.Byte).Select((header, kind, count, position, value) =>
    {
        var bytes = new List<byte>(header);
        var random = new Random(position);
        for (int k = 0; k < count && bytes.Count > 0; k++)
        {
            int at = random.Next(bytes.Count);
            switch (kind)
            {
                case 0:
                    bytes[at] ^= (byte)(1 << random.Next(8));
                    break;
                case 1:
                    bytes.Insert(at, (byte)(value + k));
                    break;
                case 2:
                    bytes.RemoveAt(at);
                    break;
                default:
                    bytes.RemoveRange(at, bytes.Count - at);
                    break;
            }
        }

        return bytes.ToArray();
    });

    private static readonly Gen<byte[]> GenRandomBytes = Gen.OneOf(
        Gen.Byte.Array[0, 300],
        Gen.Byte.Array[0, 300].Select(b => Concat(Signature, [0x21], b)),
        Gen.Byte.Array[0, 300].Select(b => Concat(Signature, [0x21, 0x11, 0x00, (byte)b.Length], b)),
        Gen.Byte.Array[0, 120].Select(b => Concat(Ascii("PROXY "), b)),
        Gen.Char["0123456789abcdefABCDEF.: \r\n"].Array[0, 110].Select(c => Concat(Ascii("PROXY TCP6 "), Ascii(new string(c)))),
        Gen.Char["0123456789.: \r\n"].Array[0, 60].Select(c => Concat(Ascii("PROXY TCP4 "), Ascii(new string(c)))));

    private static void AssertTotal(byte[] input)
    {
        ParseResult r = Parse.Run(input);
        Assert.True(Enum.IsDefined(r.Status));
        switch (r.Status)
        {
            case ProxyParseStatus.Complete:
                Assert.Equal(ProxyParseError.None, r.Error);
                Assert.InRange(r.Header.Length, 15, input.Length);
                Assert.Equal(r.Header.Length, r.Header.RawBytes.Length);

                // Everything the header exposes is readable, and the exact header bytes alone parse the same.
                string described = Parse.Describe(r.Header);
                _ = r.Header.TryGetAwsVpcEndpointId(out _) | r.Header.TryGetAzurePrivateLinkId(out _) | r.Header.TryGetGcpPscConnectionId(out _);
                ParseResult exact = Parse.Run(input[..r.Header.Length]);
                Assert.Equal(ProxyParseStatus.Complete, exact.Status);
                Assert.Equal(described, Parse.Describe(exact.Header));
                break;
            case ProxyParseStatus.Invalid:
                Assert.NotEqual(ProxyParseError.None, r.Error);
                break;
            default:
                Assert.Equal(ProxyParseError.None, r.Error);
                break;
        }

        // Same answer when the input arrives in one-byte segments.
        ParseResult bytewise = Parse.Run(Sequences.Bytewise(input));
        Assert.Equal((r.Status, r.Error, r.Header.Length), (bytewise.Status, bytewise.Error, bytewise.Header.Length));
    }

    [Fact]
    public void Parse_MutatedValidHeaders_NeverThrowsAndStaysConsistent() =>
        GenMutated.Sample(AssertTotal, iter: Iterations, threads: 1);

    [Fact]
    public void Parse_RandomBytes_NeverThrowsAndStaysConsistent() =>
        GenRandomBytes.Sample(AssertTotal, iter: Iterations, threads: 1);

    private static readonly byte[] DefinedFamilyTransports = [0x00, 0x11, 0x12, 0x21, 0x22, 0x31, 0x32];

    [Fact]
    public void Parse_V2ProxyWithAnyFamilyTransportByte_IsCompleteOnlyForTheSevenDefinedValues() =>
        Gen.Select(Gen.Byte, Gen.Byte.Array[216, 260]).Sample((familyTransport, body) =>
        {
            byte[] header = V2(0x21, familyTransport, body);
            ParseResult r = Parse.Run(Concat(header, Ascii("GET")));
            if (Array.IndexOf(DefinedFamilyTransports, familyTransport) >= 0)
            {
                // Any body that holds the family's addresses and splits into TLVs; others are TLV errors, not family ones.
                Assert.NotEqual(ProxyParseError.V2BadAddressFamily, r.Error);
                Assert.NotEqual(ProxyParseError.V2BadTransport, r.Error);
            }
            else
            {
                Assert.Equal(ProxyParseStatus.Invalid, r.Status);
                Assert.True(r.Error is ProxyParseError.V2BadAddressFamily or ProxyParseError.V2BadTransport, r.Error.ToString());

                // Decided from byte 14 alone.
                Assert.Equal(r.Error, Parse.Run(Concat(Signature, [0x21, familyTransport])).Error);
            }
        }, iter: Iterations, threads: 1);

    [Fact]
    public void Parse_V2LocalWithAnyFamilyAndLength_IsCompleteLocalOf16PlusLength() =>
        Gen.Select(Gen.Byte, Gen.Byte.Array[0, 300]).Sample((familyTransport, body) =>
        {
            byte[] header = V2(0x20, familyTransport, body);
            ParseResult r = Parse.Run(Concat(header, Ascii("GET")));

            // Only a well-formed TLV area that fails verification (a CRC32C mismatch, a bad SSL or UNIQUE_ID TLV) refuses
            // a LOCAL header; random bytes rarely form one, and when they do the error says so.
            if (r.Status == ProxyParseStatus.Invalid)
            {
                Assert.True(
                    r.Error is ProxyParseError.V2Crc32CMismatch or ProxyParseError.V2BadCrc32CTlv or ProxyParseError.V2BadSslTlv or ProxyParseError.V2UniqueIdTooLong,
                    r.Error.ToString());
                return;
            }

            Assert.Equal(ProxyParseStatus.Complete, r.Status);
            Assert.Equal(ProxyCommand.Local, r.Header.Command);
            Assert.Equal(16 + body.Length, r.Header.Length);
            Assert.False(r.Header.HasIPEndPoints);
        }, iter: Iterations, threads: 1);

    [Fact]
    public void Parse_ValidHeaders_AreComplete() =>
        GenValidHeader.Sample(header => Assert.Equal(header.Length, Parse.Complete(header).Length), iter: Iterations, threads: 1);
}
