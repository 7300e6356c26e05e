using System.Buffers.Binary;
using System.Numerics;
using System.Text;

namespace ProxyKestrel.ProxyProtocol.Tests.Differential;

/// <summary>What the specification (doc/proxy-protocol.txt) says about a corpus case.</summary>
public enum SpecVerdict
{
    /// <summary>A valid header per the specification.</summary>
    Valid,

    /// <summary>An invalid header per the specification.</summary>
    Invalid,

    /// <summary>A random mutation of a valid header; not labelled.</summary>
    Mutation,
}

/// <summary>One header to feed to both HAProxy and our parser.</summary>
public sealed record DifferentialCase(string Name, ReadOnlyMemory<byte> Header, SpecVerdict Verdict)
{
    public string Hex => Convert.ToHexString(Header.Span);

    public override string ToString() => Name;
}

/// <summary>
/// A deterministic corpus of PROXY v1/v2 headers: hand-written valid and invalid cases plus seeded one-byte
/// mutations of the valid ones.
/// </summary>
public static class DifferentialCorpus
{
    public const int MutationSeed = 20240611;
    public const int MutationCount = 100;

    private const byte Local = 0x20;
    private const byte Proxy = 0x21;

    private const byte Alpn = 0x01;
    private const byte Authority = 0x02;
    private const byte Crc = 0x03;
    private const byte Noop = 0x04;
    private const byte UniqueId = 0x05;
    private const byte Ssl = 0x20;
    private const byte Netns = 0x30;

    private static readonly Lazy<IReadOnlyList<DifferentialCase>> LazyAll = new(Build);

    public static IReadOnlyList<DifferentialCase> All => LazyAll.Value;

    /// <summary>CRC32C (Castagnoli): seed 0xFFFFFFFF, final complement, as the spec's section 2.2.3 requires.</summary>
    public static uint Crc32C(ReadOnlySpan<byte> data)
    {
        uint crc = 0xFFFFFFFF;
        foreach (byte b in data)
        {
            crc = BitOperations.Crc32C(crc, b);
        }

        return ~crc;
    }

    private static List<DifferentialCase> Build()
    {
        var cases = new List<DifferentialCase>();
        AddV1Valid(cases);
        AddV1Invalid(cases);
        AddV2Valid(cases);
        AddV2Invalid(cases);
        AddMutations(cases);

        var names = new HashSet<string>(StringComparer.Ordinal);
        foreach (DifferentialCase c in cases)
        {
            if (!names.Add(c.Name))
            {
                throw new InvalidOperationException($"duplicate corpus case name {c.Name}");
            }
        }

        return cases;
    }

    // ---------------------------------------------------------------- v1

    private static void AddV1Valid(List<DifferentialCase> cases)
    {
        void Add(string name, string line) => cases.Add(new(name, Encoding.ASCII.GetBytes(line), SpecVerdict.Valid));

        Add("v1-tcp4-basic", "PROXY TCP4 1.2.3.4 5.6.7.8 1 2\r\n");
        Add("v1-tcp4-ports-0", "PROXY TCP4 1.2.3.4 5.6.7.8 0 0\r\n");
        Add("v1-tcp4-ports-65535", "PROXY TCP4 1.2.3.4 5.6.7.8 65535 65535\r\n");
        Add("v1-tcp4-zero-addresses", "PROXY TCP4 0.0.0.0 0.0.0.0 1 1\r\n");
        Add("v1-tcp4-broadcast", "PROXY TCP4 255.255.255.255 255.255.255.255 65535 1\r\n");
        Add("v1-tcp4-private", "PROXY TCP4 192.168.0.1 10.0.0.1 56324 443\r\n");
        Add("v1-tcp4-loopback", "PROXY TCP4 127.0.0.1 127.0.0.1 1 65535\r\n");
        Add("v1-tcp4-longest", "PROXY TCP4 255.255.255.255 255.255.255.255 65535 65535\r\n");
        Add("v1-tcp6-loopback", "PROXY TCP6 ::1 ::1 1 2\r\n");
        Add("v1-tcp6-doc-prefix", "PROXY TCP6 2001:db8::1 2001:db8::2 443 8443\r\n");
        Add("v1-tcp6-full-8-groups", "PROXY TCP6 2001:0db8:0000:0000:0000:ff00:0042:8329 2001:db8:1:2:3:4:5:6 1 2\r\n");
        Add("v1-tcp6-ipv4-mapped", "PROXY TCP6 ::ffff:1.2.3.4 ::ffff:5.6.7.8 1 2\r\n");
        Add("v1-tcp6-ipv4-compatible", "PROXY TCP6 ::1.2.3.4 ::ffff:255.255.255.255 1 2\r\n");
        Add("v1-tcp6-unspecified", "PROXY TCP6 :: :: 0 0\r\n");
        Add("v1-tcp6-link-local", "PROXY TCP6 fe80::1 fe80::abcd:ef01 65535 65535\r\n");
        Add("v1-tcp6-uppercase-hex", "PROXY TCP6 2001:DB8::A 2001:Db8::b 1 2\r\n");
        Add("v1-tcp6-trailing-compression", "PROXY TCP6 1:: 2001:db8:: 1 2\r\n");
        Add("v1-tcp6-middle-compression", "PROXY TCP6 1:2:3::6:7:8 1::8 1 2\r\n");
        Add("v1-tcp6-all-ones", "PROXY TCP6 ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff 65535 65535\r\n");
        Add("v1-tcp6-seven-groups-compressed", "PROXY TCP6 1:2:3:4:5:6:7:: ::2:3:4:5:6:7:8 1 2\r\n");
        Add("v1-unknown", "PROXY UNKNOWN\r\n");

        // Spec 2.1: "the receiver must ignore anything presented before the CRLF is found" after UNKNOWN.
        Add("v1-unknown-with-addresses", "PROXY UNKNOWN ffff:f...f:ffff ffff:f...f:ffff 65535 65535\r\n");
        Add("v1-unknown-with-space", "PROXY UNKNOWN \r\n");

        var random = new Random(7);
        for (int i = 0; i < 8; i++)
        {
            string s = $"{random.Next(1, 256)}.{random.Next(256)}.{random.Next(256)}.{random.Next(256)}";
            string d = $"{random.Next(1, 256)}.{random.Next(256)}.{random.Next(256)}.{random.Next(256)}";
            Add($"v1-tcp4-random-{i}", $"PROXY TCP4 {s} {d} {random.Next(65536)} {random.Next(65536)}\r\n");
        }

        for (int i = 0; i < 8; i++)
        {
            string s = RandomIPv6(random);
            string d = RandomIPv6(random);
            Add($"v1-tcp6-random-{i}", $"PROXY TCP6 {s} {d} {random.Next(65536)} {random.Next(65536)}\r\n");
        }
    }

    private static string RandomIPv6(Random random)
    {
        // Canonical text via IPAddress, with some zero groups so compression shows up.
        Span<byte> bytes = stackalloc byte[16];
        random.NextBytes(bytes);
        int zeros = random.Next(0, 4);
        int at = random.Next(0, 8 - zeros);
        bytes.Slice(at * 2, zeros * 2).Clear();
        return new System.Net.IPAddress(bytes).ToString();
    }

    private static void AddV1Invalid(List<DifferentialCase> cases)
    {
        void Add(string name, string line) => cases.Add(new(name, Encoding.ASCII.GetBytes(line), SpecVerdict.Invalid));

        Add("v1-double-space-after-proxy", "PROXY  TCP4 1.2.3.4 5.6.7.8 1 2\r\n");
        Add("v1-double-space-after-protocol", "PROXY TCP4  1.2.3.4 5.6.7.8 1 2\r\n");
        Add("v1-double-space-after-source", "PROXY TCP4 1.2.3.4  5.6.7.8 1 2\r\n");
        Add("v1-double-space-after-destination", "PROXY TCP4 1.2.3.4 5.6.7.8  1 2\r\n");
        Add("v1-double-space-after-source-port", "PROXY TCP4 1.2.3.4 5.6.7.8 1  2\r\n");
        Add("v1-tcp6-double-space-after-source", "PROXY TCP6 ::1  ::1 1 2\r\n");
        Add("v1-tcp6-double-space-after-destination", "PROXY TCP6 ::1 ::1  1 2\r\n");
        Add("v1-tcp6-double-space-after-source-port", "PROXY TCP6 ::1 ::1 1  2\r\n");
        Add("v1-tab-separator", "PROXY TCP4 1.2.3.4\t5.6.7.8 1 2\r\n");
        Add("v1-lf-only", "PROXY TCP4 1.2.3.4 5.6.7.8 1 2\n");
        Add("v1-cr-only", "PROXY TCP4 1.2.3.4 5.6.7.8 1 2\r");
        Add("v1-cr-cr-lf", "PROXY TCP4 1.2.3.4 5.6.7.8 1 2\r\r\n");
        Add("v1-lf-cr", "PROXY TCP4 1.2.3.4 5.6.7.8 1 2\n\r");
        Add("v1-unknown-lf-only", "PROXY UNKNOWN\n");
        Add("v1-protocol-tcp5", "PROXY TCP5 1.2.3.4 5.6.7.8 1 2\r\n");
        Add("v1-protocol-lowercase", "PROXY tcp4 1.2.3.4 5.6.7.8 1 2\r\n");
        Add("v1-protocol-udp4", "PROXY UDP4 1.2.3.4 5.6.7.8 1 2\r\n");
        Add("v1-protocol-tcp", "PROXY TCP 1.2.3.4 5.6.7.8 1 2\r\n");
        Add("v1-protocol-unknownx", "PROXY UNKNOWNX\r\n");
        Add("v1-prefix-lowercase", "proxy TCP4 1.2.3.4 5.6.7.8 1 2\r\n");
        Add("v1-prefix-tab", "PROXY\tTCP4 1.2.3.4 5.6.7.8 1 2\r\n");
        Add("v1-no-fields", "PROXY TCP4\r\n");
        Add("v1-tcp4-ipv6-source", "PROXY TCP4 ::1 5.6.7.8 1 2\r\n");
        Add("v1-tcp4-ipv6-destination", "PROXY TCP4 1.2.3.4 ::1 1 2\r\n");
        Add("v1-tcp6-ipv4-source", "PROXY TCP6 1.2.3.4 ::1 1 2\r\n");
        Add("v1-tcp6-ipv4-both", "PROXY TCP6 1.2.3.4 5.6.7.8 1 2\r\n");
        Add("v1-tcp4-octet-256", "PROXY TCP4 1.2.3.256 5.6.7.8 1 2\r\n");
        Add("v1-tcp4-octet-999", "PROXY TCP4 1.2.3.4 5.6.999.8 1 2\r\n");
        Add("v1-tcp4-octet-four-digits", "PROXY TCP4 1.2.3.4 5.6.7.1000 1 2\r\n");
        Add("v1-tcp4-three-octets", "PROXY TCP4 1.2.3 5.6.7.8 1 2\r\n");
        Add("v1-tcp4-five-octets", "PROXY TCP4 1.2.3.4.5 5.6.7.8 1 2\r\n");
        Add("v1-tcp4-empty-octet", "PROXY TCP4 1..3.4 5.6.7.8 1 2\r\n");
        Add("v1-tcp4-trailing-dot", "PROXY TCP4 1.2.3.4. 5.6.7.8 1 2\r\n");
        Add("v1-tcp4-leading-zero-octet", "PROXY TCP4 01.2.3.4 5.6.7.8 1 2\r\n");
        Add("v1-tcp4-leading-zeros-octet-000", "PROXY TCP4 1.2.3.4 5.6.7.000 1 2\r\n");
        Add("v1-tcp4-hex-address", "PROXY TCP4 0x01020304 5.6.7.8 1 2\r\n");
        Add("v1-tcp4-port-65536", "PROXY TCP4 1.2.3.4 5.6.7.8 1 65536\r\n");
        Add("v1-tcp4-port-99999", "PROXY TCP4 1.2.3.4 5.6.7.8 99999 2\r\n");
        Add("v1-tcp4-port-six-digits", "PROXY TCP4 1.2.3.4 5.6.7.8 1 100000\r\n");
        Add("v1-tcp4-port-leading-zero", "PROXY TCP4 1.2.3.4 5.6.7.8 080 2\r\n");
        Add("v1-tcp4-port-00", "PROXY TCP4 1.2.3.4 5.6.7.8 1 00\r\n");
        Add("v1-tcp4-port-negative", "PROXY TCP4 1.2.3.4 5.6.7.8 -1 2\r\n");
        Add("v1-tcp4-port-plus", "PROXY TCP4 1.2.3.4 5.6.7.8 +1 2\r\n");
        Add("v1-tcp4-port-hex", "PROXY TCP4 1.2.3.4 5.6.7.8 1 0x10\r\n");
        Add("v1-tcp4-port-letters", "PROXY TCP4 1.2.3.4 5.6.7.8 1 2a\r\n");
        Add("v1-tcp4-trailing-space", "PROXY TCP4 1.2.3.4 5.6.7.8 1 2 \r\n");
        Add("v1-tcp4-missing-port", "PROXY TCP4 1.2.3.4 5.6.7.8 1\r\n");
        Add("v1-tcp4-missing-destination", "PROXY TCP4 1.2.3.4 1 2\r\n");
        Add("v1-tcp4-extra-field", "PROXY TCP4 1.2.3.4 5.6.7.8 1 2 3\r\n");
        Add("v1-tcp6-port-leading-zero", "PROXY TCP6 ::1 ::1 01 2\r\n");
        Add("v1-tcp6-port-65536", "PROXY TCP6 ::1 ::1 1 65536\r\n");
        Add("v1-tcp6-trailing-space", "PROXY TCP6 ::1 ::1 1 2 \r\n");
        Add("v1-tcp6-missing-port", "PROXY TCP6 ::1 ::1 1\r\n");
        Add("v1-tcp6-extra-field", "PROXY TCP6 ::1 ::1 1 2 3\r\n");
        Add("v1-tcp6-empty-source-port", "PROXY TCP6 ::1 ::1  2\r\n");
        Add("v1-tcp6-zone-id", "PROXY TCP6 fe80::1%eth0 ::1 1 2\r\n");
        Add("v1-tcp6-brackets", "PROXY TCP6 [::1] ::1 1 2\r\n");
        Add("v1-tcp6-triple-colon", "PROXY TCP6 :::1 ::1 1 2\r\n");
        Add("v1-tcp6-two-compressions", "PROXY TCP6 1::2::3 ::1 1 2\r\n");
        Add("v1-tcp6-nine-groups", "PROXY TCP6 1:2:3:4:5:6:7:8:9 ::1 1 2\r\n");
        Add("v1-tcp6-seven-groups", "PROXY TCP6 1:2:3:4:5:6:7 ::1 1 2\r\n");
        Add("v1-tcp6-five-hex-digits", "PROXY TCP6 12345::1 ::1 1 2\r\n");
        Add("v1-tcp6-single-leading-colon", "PROXY TCP6 :1:2:3:4:5:6:7 ::1 1 2\r\n");
        Add("v1-tcp6-non-hex", "PROXY TCP6 2001:db8::g ::1 1 2\r\n");
        Add("v1-tcp6-embedded-ipv4-not-last", "PROXY TCP6 ::1.2.3.4:1 ::1 1 2\r\n");
        Add("v1-tcp6-embedded-ipv4-leading-zero", "PROXY TCP6 ::ffff:01.2.3.4 ::1 1 2\r\n");

        // 45-character addresses: a 116-byte line, longer than the 107 bytes of spec section 2.1.
        Add("v1-tcp6-line-over-107", "PROXY TCP6 0000:0000:0000:0000:0000:ffff:255.255.255.255 0000:0000:0000:0000:0000:ffff:255.255.255.255 65535 65535\r\n");

        Add("v1-unknown-lowercase", "PROXY unknown\r\n");
        Add("v1-empty-after-prefix", "PROXY \r\n");
        Add("v1-no-header-plain-http", "GET /x HTTP/1.0\r\n");
        Add("v1-nul-in-line", "PROXY TCP4 1.2.3.4\05.6.7.8 1 2\r\n");
    }

    // ---------------------------------------------------------------- v2

    private static void AddV2Valid(List<DifferentialCase> cases)
    {
        void Add(string name, byte[] header) => cases.Add(new(name, header, SpecVerdict.Valid));

        byte[] a4 = Inet4([1, 2, 3, 4], [5, 6, 7, 8], 1, 2);
        byte[] a6 = Inet6("2001:db8::1", "2001:db8::2", 443, 8443);

        Add("v2-local-unspec-empty", V2(Local, 0x00, []));
        Add("v2-local-unspec-noop-tlv", V2(Local, 0x00, [], Tlv(Noop, new byte[3])));
        Add("v2-local-tcp4-with-addresses", V2(Local, 0x11, a4));
        Add("v2-local-tcp6-with-addresses", V2(Local, 0x21, a6));
        Add("v2-local-tcp4-with-addresses-and-tlv", V2(Local, 0x11, a4, Tlv(Alpn, "h2"u8.ToArray())));
        Add("v2-local-unix-with-addresses", V2(Local, 0x31, new byte[216]));

        // Spec 2.2: LOCAL ignores the family and "must use the real connection endpoints and discard the protocol
        // block": any family byte and any length are valid, and a TLV area that does not split into TLVs is discarded.
        Add("v2-local-family-0x4", V2(Local, 0x41, []));
        Add("v2-local-family-0xf", V2(Local, 0xFF, a6));
        Add("v2-local-transport-0x3", V2(Local, 0x13, a4));
        Add("v2-local-inet-transport-unspec", V2(Local, 0x10, a4));
        Add("v2-local-tcp4-length-0", V2(Local, 0x11, []));
        Add("v2-local-tcp6-length-12", V2(Local, 0x21, a4));
        Add("v2-local-unix-length-12", V2(Local, 0x31, a4));
        Add("v2-local-tcp4-tlv-area-truncated", V2(Local, 0x11, a4, [Alpn, 0x00, 0x05, (byte)'h', (byte)'2']));
        Add("v2-local-unspec-tlv-header-2-bytes", V2(Local, 0x00, [], [Noop, 0x00]));

        Add("v2-tcp4-basic", V2(Proxy, 0x11, a4));
        Add("v2-tcp4-ports-0", V2(Proxy, 0x11, Inet4([1, 2, 3, 4], [5, 6, 7, 8], 0, 0)));
        Add("v2-tcp4-ports-65535", V2(Proxy, 0x11, Inet4([255, 255, 255, 255], [0, 0, 0, 0], 65535, 65535)));
        Add("v2-tcp4-loopback", V2(Proxy, 0x11, Inet4([127, 0, 0, 1], [127, 0, 0, 1], 40000, 80)));
        Add("v2-tcp6-basic", V2(Proxy, 0x21, a6));
        Add("v2-tcp6-loopback", V2(Proxy, 0x21, Inet6("::1", "::1", 1, 2)));
        Add("v2-tcp6-unspecified", V2(Proxy, 0x21, Inet6("::", "::", 0, 0)));
        Add("v2-tcp6-ipv4-mapped", V2(Proxy, 0x21, Inet6("::ffff:1.2.3.4", "::ffff:5.6.7.8", 1, 2)));
        Add("v2-tcp6-all-ones", V2(Proxy, 0x21, Inet6("ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", "fe80::1", 65535, 65535)));

        Add("v2-tcp4-alpn", V2(Proxy, 0x11, a4, Tlv(Alpn, "h2"u8.ToArray())));
        Add("v2-tcp4-alpn-empty", V2(Proxy, 0x11, a4, Tlv(Alpn, [])));
        Add("v2-tcp4-authority", V2(Proxy, 0x11, a4, Tlv(Authority, "example.com"u8.ToArray())));
        Add("v2-tcp4-authority-255", V2(Proxy, 0x11, a4, Tlv(Authority, Filled(255, (byte)'a'))));
        Add("v2-tcp4-authority-256", V2(Proxy, 0x11, a4, Tlv(Authority, Filled(256, (byte)'a'))));
        Add("v2-tcp4-noop-empty", V2(Proxy, 0x11, a4, Tlv(Noop, [])));
        Add("v2-tcp4-noop-padding", V2(Proxy, 0x11, a4, Tlv(Noop, new byte[10])));
        Add("v2-tcp4-noop-1024", V2(Proxy, 0x11, a4, Tlv(Noop, new byte[1024])));
        Add("v2-tcp4-noop-1025", V2(Proxy, 0x11, a4, Tlv(Noop, new byte[1025])));
        Add("v2-tcp4-unique-id-16", V2(Proxy, 0x11, a4, Tlv(UniqueId, Filled(16, 0x42))));
        Add("v2-tcp4-unique-id-128", V2(Proxy, 0x11, a4, Tlv(UniqueId, Filled(128, 0x42))));
        Add("v2-tcp4-unique-id-empty", V2(Proxy, 0x11, a4, Tlv(UniqueId, [])));
        Add("v2-tcp4-netns", V2(Proxy, 0x11, a4, Tlv(Netns, "blue"u8.ToArray())));
        Add("v2-tcp4-ssl-no-subtlvs", V2(Proxy, 0x11, a4, Tlv(Ssl, SslValue(0x07, 0))));
        Add("v2-tcp4-ssl-with-subtlvs", V2(Proxy, 0x11, a4, Tlv(Ssl, SslValue(
            0x07,
            0,
            Tlv(0x21, "TLSv1.3"u8.ToArray()),
            Tlv(0x22, "client.example"u8.ToArray()),
            Tlv(0x23, "TLS_AES_128_GCM_SHA256"u8.ToArray()),
            Tlv(0x24, "RSA-SHA256"u8.ToArray()),
            Tlv(0x25, "RSA2048"u8.ToArray())))));
        Add("v2-tcp4-ssl-verify-failed", V2(Proxy, 0x11, a4, Tlv(Ssl, SslValue(0x01, 1, Tlv(0x21, "TLSv1.2"u8.ToArray())))));
        for (byte t = 0xE0; t <= 0xEF; t++)
        {
            Add($"v2-tcp4-custom-0x{t:X2}", V2(Proxy, 0x11, a4, Tlv(t, [0x01, 0x02, 0x03, t])));
        }

        Add("v2-tcp4-experimental-0xF0", V2(Proxy, 0x11, a4, Tlv(0xF0, [0xAA])));
        Add("v2-tcp4-future-0xFF", V2(Proxy, 0x11, a4, Tlv(0xFF, [0xAA, 0xBB])));
        Add("v2-tcp4-unassigned-0x06", V2(Proxy, 0x11, a4, Tlv(0x06, [0x01])));
        Add("v2-tcp4-unassigned-0x10", V2(Proxy, 0x11, a4, Tlv(0x10, [])));
        Add("v2-tcp4-many-tlvs", V2(Proxy, 0x11, a4,
            Tlv(Alpn, "http/1.1"u8.ToArray()),
            Tlv(Authority, "www.example.org"u8.ToArray()),
            Tlv(UniqueId, Filled(32, 0x11)),
            Tlv(Noop, new byte[5]),
            Tlv(0xEA, [0x01, .. "vpce-08d2bf15fac5001c9"u8]),
            Tlv(0xEE, [0x01, 0x78, 0x56, 0x34, 0x12])));
        Add("v2-tcp6-alpn-authority", V2(Proxy, 0x21, a6, Tlv(Alpn, "h2"u8.ToArray()), Tlv(Authority, "example.com"u8.ToArray())));
        Add("v2-tcp6-ssl-with-subtlvs", V2(Proxy, 0x21, a6, Tlv(Ssl, SslValue(0x05, 0, Tlv(0x21, "TLSv1.3"u8.ToArray())))));

        Add("v2-tcp4-crc32c", WithCrc(V2(Proxy, 0x11, a4, Tlv(Crc, new byte[4]))));
        Add("v2-tcp4-crc32c-after-alpn", WithCrc(V2(Proxy, 0x11, a4, Tlv(Alpn, "h2"u8.ToArray()), Tlv(Crc, new byte[4]))));
        Add("v2-tcp4-crc32c-before-noop", WithCrc(V2(Proxy, 0x11, a4, Tlv(Crc, new byte[4]), Tlv(Noop, new byte[7]))));
        Add("v2-tcp6-crc32c", WithCrc(V2(Proxy, 0x21, a6, Tlv(Crc, new byte[4]))));
        Add("v2-tcp6-crc32c-many-tlvs", WithCrc(V2(Proxy, 0x21, a6,
            Tlv(Authority, "example.com"u8.ToArray()),
            Tlv(Crc, new byte[4]),
            Tlv(Ssl, SslValue(0x01, 0, Tlv(0x21, "TLSv1.3"u8.ToArray()))),
            Tlv(UniqueId, Filled(20, 0x33)))));
        Add("v2-local-crc32c", WithCrc(V2(Local, 0x00, [], Tlv(Crc, new byte[4]))));

        var random = new Random(11);
        for (int i = 0; i < 8; i++)
        {
            byte[] s = new byte[4];
            byte[] d = new byte[4];
            random.NextBytes(s);
            random.NextBytes(d);
            Add($"v2-tcp4-random-{i}", V2(Proxy, 0x11, Inet4(s, d, (ushort)random.Next(65536), (ushort)random.Next(65536))));
        }

        for (int i = 0; i < 8; i++)
        {
            byte[] s = new byte[16];
            byte[] d = new byte[16];
            random.NextBytes(s);
            random.NextBytes(d);
            Add($"v2-tcp6-random-{i}", V2(Proxy, 0x21, Inet6Bytes(s, d, (ushort)random.Next(65536), (ushort)random.Next(65536))));
        }

        // Spec-valid but not relayed as TCP: UNSPEC, UDP and UNIX.
        Add("v2-proxy-unspec-empty", V2(Proxy, 0x00, []));
        Add("v2-proxy-udp4", V2(Proxy, 0x12, a4));
        Add("v2-proxy-udp6", V2(Proxy, 0x22, a6));
        Add("v2-proxy-unix-stream", V2(Proxy, 0x31, UnixPaths("/run/a.sock", "/run/b.sock")));
        Add("v2-proxy-unix-dgram", V2(Proxy, 0x32, UnixPaths("/run/a.sock", "/run/b.sock")));

        // Spec 2.2: the receiver must skip the address block of the announced family even for LOCAL, and it may
        // be longer than the addresses (here a 4096-byte header).
        Add("v2-tcp4-header-4096", V2(Proxy, 0x11, a4, Tlv(Noop, new byte[4096 - 16 - 12 - 3])));
    }

    private static void AddV2Invalid(List<DifferentialCase> cases)
    {
        void Add(string name, byte[] header) => cases.Add(new(name, header, SpecVerdict.Invalid));

        byte[] a4 = Inet4([1, 2, 3, 4], [5, 6, 7, 8], 1, 2);
        byte[] a6 = Inet6("2001:db8::1", "2001:db8::2", 443, 8443);

        foreach (byte version in (byte[])[0x00, 0x10, 0x30, 0xF0])
        {
            Add($"v2-version-0x{version >> 4:X}", V2((byte)(version | 0x01), 0x11, a4));
        }

        foreach (byte command in (byte[])[0x2, 0x3, 0xF])
        {
            Add($"v2-command-0x{command:X}", V2((byte)(0x20 | command), 0x11, a4));
        }

        foreach (byte family in (byte[])[0x4, 0x5, 0x8, 0xF])
        {
            Add($"v2-proxy-family-0x{family:X}", V2(Proxy, (byte)((family << 4) | 0x1), a4));
        }

        foreach (byte transport in (byte[])[0x3, 0x4, 0x9, 0xF])
        {
            Add($"v2-proxy-transport-0x{transport:X}", V2(Proxy, (byte)(0x10 | transport), a4));
        }

        // Spec 2.2: only 0x00, 0x11, 0x12, 0x21, 0x22, 0x31 and 0x32 are defined; each nibble of these is valid alone.
        Add("v2-proxy-unspec-transport-stream", V2(Proxy, 0x01, a4));
        Add("v2-proxy-unspec-transport-dgram", V2(Proxy, 0x02, a4));
        Add("v2-proxy-inet-transport-unspec", V2(Proxy, 0x10, a4));
        Add("v2-proxy-inet6-transport-unspec", V2(Proxy, 0x20, a6));
        Add("v2-proxy-unix-transport-unspec", V2(Proxy, 0x30, UnixPaths("/run/a.sock", "/run/b.sock")));

        Add("v2-tcp4-length-11", V2(Proxy, 0x11, a4[..11]));
        Add("v2-tcp4-length-0", V2(Proxy, 0x11, []));
        Add("v2-tcp6-length-35", V2(Proxy, 0x21, a6[..35]));
        Add("v2-tcp6-length-12", V2(Proxy, 0x21, a4));
        Add("v2-unix-length-215", V2(Proxy, 0x31, new byte[215]));

        Add("v2-tcp4-tlv-value-past-end", V2(Proxy, 0x11, a4, [Alpn, 0x00, 0x05, (byte)'h', (byte)'2']));
        Add("v2-tcp4-tlv-length-0xffff", V2(Proxy, 0x11, a4, [Noop, 0xFF, 0xFF, 0x00]));
        Add("v2-tcp4-tlv-header-1-byte", V2(Proxy, 0x11, a4, [Noop]));
        Add("v2-tcp4-tlv-header-2-bytes", V2(Proxy, 0x11, a4, [Noop, 0x00]));
        Add("v2-tcp4-tlv-then-1-leftover", V2(Proxy, 0x11, a4, Tlv(Alpn, "h2"u8.ToArray()), [0x00]));
        Add("v2-tcp6-tlv-header-2-bytes", V2(Proxy, 0x21, a6, [Authority, 0x00]));

        Add("v2-tcp4-crc32c-wrong", FlipLastByte(WithCrc(V2(Proxy, 0x11, a4, Tlv(Crc, new byte[4])))));
        Add("v2-tcp6-crc32c-wrong", FlipLastByte(WithCrc(V2(Proxy, 0x21, a6, Tlv(Alpn, "h2"u8.ToArray()), Tlv(Crc, new byte[4])))));
        Add("v2-tcp4-crc32c-zero", V2(Proxy, 0x11, a4, Tlv(Crc, new byte[4])));
        Add("v2-tcp4-crc32c-length-3", V2(Proxy, 0x11, a4, Tlv(Crc, new byte[3])));
        Add("v2-tcp4-crc32c-length-5", V2(Proxy, 0x11, a4, Tlv(Crc, new byte[5])));
        Add("v2-tcp4-crc32c-length-0", V2(Proxy, 0x11, a4, Tlv(Crc, [])));
        Add("v2-tcp4-crc32c-twice-same-value", TwoCrcSameValue(a4));
        Add("v2-tcp4-crc32c-twice-chained", TwoCrcChained(a4));
        Add("v2-local-crc32c-wrong", FlipLastByte(WithCrc(V2(Local, 0x00, [], Tlv(Crc, new byte[4])))));

        Add("v2-tcp4-unique-id-129", V2(Proxy, 0x11, a4, Tlv(UniqueId, Filled(129, 0x42))));
        Add("v2-tcp6-unique-id-200", V2(Proxy, 0x21, a6, Tlv(UniqueId, Filled(200, 0x42))));
        Add("v2-tcp4-ssl-length-4", V2(Proxy, 0x11, a4, Tlv(Ssl, [0x01, 0x00, 0x00, 0x00])));
        Add("v2-tcp4-ssl-length-0", V2(Proxy, 0x11, a4, Tlv(Ssl, [])));
        Add("v2-tcp4-ssl-subtlv-past-end", V2(Proxy, 0x11, a4, Tlv(Ssl, [0x01, 0, 0, 0, 0, 0x21, 0x00, 0x09, (byte)'T'])));
        Add("v2-tcp4-ssl-subtlv-header-truncated", V2(Proxy, 0x11, a4, Tlv(Ssl, [0x01, 0, 0, 0, 0, 0x21, 0x00])));

        // Valid per the spec, but larger than the default 4096-byte ProxyHeaderParserOptions.MaxHeaderSize.
        Add("v2-tcp4-header-4097", V2(Proxy, 0x11, a4, Tlv(Noop, new byte[4097 - 16 - 12 - 3])));

        byte[] badSignature = V2(Proxy, 0x11, a4);
        badSignature[11] = 0x0B;
        Add("v2-signature-wrong-last-byte", badSignature);
    }

    private static byte[] FlipLastByte(byte[] header)
    {
        header[^1] ^= 0x01;
        return header;
    }

    // ---------------------------------------------------------------- mutations

    private static void AddMutations(List<DifferentialCase> cases)
    {
        // Seeds: short valid headers both sides accept alike (not the v2-proxy-* families HAProxy does not relay, the
        // v1 UNKNOWN lines with a tail, nor the 256-byte AUTHORITY it refuses), so that a mutation probes the edge between valid and invalid rather
        // than a known difference.
        List<DifferentialCase> seeds = cases.FindAll(c =>
            c.Verdict == SpecVerdict.Valid && c.Header.Length <= 200 
            && !c.Name.StartsWith("v2-proxy-", StringComparison.Ordinal)
            && !c.Name.StartsWith("v1-unknown-with-", StringComparison.Ordinal));
        var random = new Random(MutationSeed);
        for (int i = 0; i < MutationCount; i++)
        {
            DifferentialCase seed = seeds[random.Next(seeds.Count)];
            byte[] bytes = seed.Header.ToArray();
            bool v2 = bytes[0] == 0x0D;
            int position;
            do
            {
                position = random.Next(bytes.Length);
            }
            while (v2 && position is 14 or 15); // Keep the v2 length: a longer one would only make both sides wait.

            byte value;
            do
            {
                value = (byte)random.Next(256);
            }
            while (value == bytes[position]);

            bytes[position] = value;
            cases.Add(new($"mut-{i:D3}-{seed.Name}-at-{position}-0x{value:X2}", bytes, SpecVerdict.Mutation));
        }
    }

    // ---------------------------------------------------------------- builders

    private static byte[] V2(byte versionCommand, byte familyTransport, byte[] addresses, params byte[][] tlvs)
    {
        int length = addresses.Length + tlvs.Sum(t => t.Length);
        byte[] header = new byte[16 + length];
        ProxyHeaderParser.V2Signature.CopyTo(header);
        header[12] = versionCommand;
        header[13] = familyTransport;
        BinaryPrimitives.WriteUInt16BigEndian(header.AsSpan(14), (ushort)length);
        addresses.CopyTo(header, 16);
        int offset = 16 + addresses.Length;
        foreach (byte[] tlv in tlvs)
        {
            tlv.CopyTo(header, offset);
            offset += tlv.Length;
        }

        return header;
    }

    private static byte[] Tlv(byte type, byte[] value)
    {
        byte[] tlv = new byte[3 + value.Length];
        tlv[0] = type;
        BinaryPrimitives.WriteUInt16BigEndian(tlv.AsSpan(1), (ushort)value.Length);
        value.CopyTo(tlv, 3);
        return tlv;
    }

    private static byte[] SslValue(byte client, uint verify, params byte[][] subTlvs)
    {
        byte[] value = new byte[5 + subTlvs.Sum(t => t.Length)];
        value[0] = client;
        BinaryPrimitives.WriteUInt32BigEndian(value.AsSpan(1), verify);
        int offset = 5;
        foreach (byte[] sub in subTlvs)
        {
            sub.CopyTo(value, offset);
            offset += sub.Length;
        }

        return value;
    }

    private static byte[] Inet4(byte[] source, byte[] destination, ushort sourcePort, ushort destinationPort)
    {
        byte[] block = new byte[12];
        source.CopyTo(block, 0);
        destination.CopyTo(block, 4);
        BinaryPrimitives.WriteUInt16BigEndian(block.AsSpan(8), sourcePort);
        BinaryPrimitives.WriteUInt16BigEndian(block.AsSpan(10), destinationPort);
        return block;
    }

    private static byte[] Inet6(string source, string destination, ushort sourcePort, ushort destinationPort) =>
        Inet6Bytes(
            System.Net.IPAddress.Parse(source).GetAddressBytes(),
            System.Net.IPAddress.Parse(destination).GetAddressBytes(),
            sourcePort,
            destinationPort);

    private static byte[] Inet6Bytes(byte[] source, byte[] destination, ushort sourcePort, ushort destinationPort)
    {
        byte[] block = new byte[36];
        source.CopyTo(block, 0);
        destination.CopyTo(block, 16);
        BinaryPrimitives.WriteUInt16BigEndian(block.AsSpan(32), sourcePort);
        BinaryPrimitives.WriteUInt16BigEndian(block.AsSpan(34), destinationPort);
        return block;
    }

    private static byte[] UnixPaths(string source, string destination)
    {
        byte[] block = new byte[216];
        Encoding.ASCII.GetBytes(source).CopyTo(block, 0);
        Encoding.ASCII.GetBytes(destination).CopyTo(block, 108);
        return block;
    }

    private static byte[] Filled(int length, byte value)
    {
        byte[] bytes = new byte[length];
        bytes.AsSpan().Fill(value);
        return bytes;
    }

    /// <summary>Fills the (single, last-found) CRC32C TLV value with the checksum of the header.</summary>
    private static byte[] WithCrc(byte[] header)
    {
        int valueOffset = FindTlvValues(header, Crc)[^1];
        header.AsSpan(valueOffset, 4).Clear();
        BinaryPrimitives.WriteUInt32BigEndian(header.AsSpan(valueOffset), Crc32C(header));
        return header;
    }

    /// <summary>Two CRC32C TLVs, both holding the checksum computed with both zeroed: valid for neither reader.</summary>
    private static byte[] TwoCrcSameValue(byte[] addresses)
    {
        byte[] header = V2(Proxy, 0x11, addresses, Tlv(Crc, new byte[4]), Tlv(Crc, new byte[4]));
        uint crc = Crc32C(header);
        foreach (int offset in FindTlvValues(header, Crc))
        {
            BinaryPrimitives.WriteUInt32BigEndian(header.AsSpan(offset), crc);
        }

        return header;
    }

    /// <summary>
    /// Two CRC32C TLVs where the first covers the header with only itself zeroed and the second covers it with both
    /// zeroed: exactly what a reader that zeroes and checks each CRC32C TLV in turn (HAProxy) accepts.
    /// </summary>
    private static byte[] TwoCrcChained(byte[] addresses)
    {
        byte[] header = V2(Proxy, 0x11, addresses, Tlv(Crc, new byte[4]), Tlv(Crc, new byte[4]));
        List<int> offsets = FindTlvValues(header, Crc);
        BinaryPrimitives.WriteUInt32BigEndian(header.AsSpan(offsets[1]), Crc32C(header));
        BinaryPrimitives.WriteUInt32BigEndian(header.AsSpan(offsets[0]), Crc32C(header));
        return header;
    }

    private static List<int> FindTlvValues(byte[] header, byte type)
    {
        int addressBlock = (header[13] >> 4) switch
        {
            1 => 12,
            2 => 36,
            3 => 216,
            _ => 0,
        };
        var found = new List<int>();
        int offset = 16 + addressBlock;
        while (offset + 3 <= header.Length)
        {
            int length = BinaryPrimitives.ReadUInt16BigEndian(header.AsSpan(offset + 1));
            if (header[offset] == type)
            {
                found.Add(offset + 3);
            }

            offset += 3 + length;
        }

        return found;
    }
}
