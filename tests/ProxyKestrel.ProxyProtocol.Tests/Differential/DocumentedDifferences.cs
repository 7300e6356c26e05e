namespace ProxyKestrel.ProxyProtocol.Tests.Differential;

/// <summary>One known, intended difference between our parser and HAProxy 2.6 (see docs/haproxy-differences.md).</summary>
public sealed record DocumentedDifference(string Ours, string Haproxy, string Reason);

/// <summary>
/// Every corpus case on which our parser and HAProxy 2.6 are known to disagree, with both exact outcomes (as produced
/// by <see cref="DifferentialRunner"/>). Keep in sync with docs/haproxy-differences.md: the differential test fails
/// on any other disagreement and on any entry that no longer holds.
/// </summary>
public static class DocumentedDifferences
{
    private const string V1Ipv4 =
        "HAProxy's inetaddr_host_lim_ret() does not validate IPv4 octets (no range check, no leading-zero check, fewer than 4 octets allowed); spec 2.1 requires canonical dotted quads";

    private const string V1Port =
        "HAProxy's read_uint() accepts any digits and truncates to 16 bits; spec 2.1 requires a decimal 0-65535 without leading zeros";

    private const string V1LeadingZero =
        "HAProxy accepts leading zeros; spec 2.1 forbids them (octal ambiguity)";

    private const string V1Tcp6Fields =
        "HAProxy's TCP6 branch splits on every space and ignores what follows the 4th field or an empty field; spec 2.1 requires exactly one space between exactly 6 fields";

    private const string V1Unknown =
        "spec 2.1: after UNKNOWN the receiver must ignore anything before the CRLF; HAProxy only accepts exactly 'PROXY UNKNOWN' followed by CRLF";

    private const string V2NotRelayed =
        "HAProxy 2.6 only decodes PROXY with TCP4 (0x11) / TCP6 (0x21); for any other family it starts TLV parsing at offset 0 (the signature), which fails";

    private const string V2Ssl =
        "spec 2.2.6: PP2_TYPE_SSL is at least 5 bytes (client, verify) followed by sub-TLVs; ours validates that, HAProxy 2.6 does not look inside the SSL TLV on receipt";

    public static IReadOnlyDictionary<string, DocumentedDifference> All { get; } = new Dictionary<string, DocumentedDifference>(StringComparer.Ordinal)
    {
        ["v1-unknown-with-addresses"] = new("accepted real", "rejected", V1Unknown),
        ["v1-unknown-with-space"] = new("accepted real", "rejected", V1Unknown),
        ["v1-tcp6-double-space-after-destination"] = new("rejected", "accepted ::1 0 ::1 1", V1Tcp6Fields),
        ["v1-tcp6-double-space-after-source-port"] = new("rejected", "accepted ::1 1 ::1 0", V1Tcp6Fields),
        ["v1-tcp4-octet-256"] = new("rejected", "accepted 1.2.4.0 1 5.6.7.8 2", V1Ipv4),
        ["v1-tcp4-octet-999"] = new("rejected", "accepted 1.2.3.4 1 5.9.231.8 2", V1Ipv4),
        ["v1-tcp4-octet-four-digits"] = new("rejected", "accepted 1.2.3.4 1 5.6.7.0 2", V1Ipv4),
        ["v1-tcp4-three-octets"] = new("rejected", "accepted 1.2.3.0 1 5.6.7.8 2", V1Ipv4),
        ["v1-tcp4-empty-octet"] = new("rejected", "accepted 1.0.3.4 1 5.6.7.8 2", V1Ipv4),
        ["v1-tcp4-leading-zero-octet"] = new("rejected", "accepted 1.2.3.4 1 5.6.7.8 2", V1Ipv4),
        ["v1-tcp4-leading-zeros-octet-000"] = new("rejected", "accepted 1.2.3.4 1 5.6.7.0 2", V1Ipv4),
        ["v1-tcp4-port-65536"] = new("rejected", "accepted 1.2.3.4 1 5.6.7.8 0", V1Port),
        ["v1-tcp4-port-99999"] = new("rejected", "accepted 1.2.3.4 34463 5.6.7.8 2", V1Port),
        ["v1-tcp4-port-six-digits"] = new("rejected", "accepted 1.2.3.4 1 5.6.7.8 34464", V1Port),
        ["v1-tcp4-port-leading-zero"] = new("rejected", "accepted 1.2.3.4 80 5.6.7.8 2", V1LeadingZero),
        ["v1-tcp4-port-00"] = new("rejected", "accepted 1.2.3.4 1 5.6.7.8 0", V1LeadingZero),
        ["v1-tcp6-port-leading-zero"] = new("rejected", "accepted ::1 1 ::1 2", V1LeadingZero),
        ["v1-tcp6-port-65536"] = new("rejected", "accepted ::1 1 ::1 0", V1Port),
        ["v1-tcp6-trailing-space"] = new("rejected", "accepted ::1 1 ::1 2", V1Tcp6Fields),
        ["v1-tcp6-extra-field"] = new("rejected", "accepted ::1 1 ::1 2", V1Tcp6Fields),
        ["v1-tcp6-empty-source-port"] = new("rejected", "accepted ::1 0 ::1 2", V1Tcp6Fields),
        ["v1-tcp6-line-over-107"] = new("rejected", "accepted ::ffff:255.255.255.255 65535 ::ffff:255.255.255.255 65535", "spec 2.1: a v1 line is at most 107 bytes and the receiver should reject a longer one; HAProxy has no line limit (inet_pton accepts 45-char addresses)"),
        ["v2-tcp4-authority-256"] = new("accepted 1.2.3.4 1 5.6.7.8 2", "rejected", "spec 2.2.2 sets no limit; HAProxy rejects AUTHORITY values over 255 bytes (PP2_AUTHORITY_MAX)"),
        ["v2-proxy-unspec-empty"] = new("accepted real", "rejected", V2NotRelayed),
        ["v2-proxy-udp4"] = new("accepted 1.2.3.4 1 5.6.7.8 2", "rejected", V2NotRelayed),
        ["v2-proxy-udp6"] = new("accepted 2001:db8::1 443 2001:db8::2 8443", "rejected", V2NotRelayed),
        ["v2-proxy-unix-stream"] = new("accepted real", "rejected", V2NotRelayed),
        ["v2-proxy-unix-dgram"] = new("accepted real", "rejected", V2NotRelayed),
        ["v2-tcp4-crc32c-twice-chained"] = new("rejected", "accepted 1.2.3.4 1 5.6.7.8 2", "ours allows at most one CRC32C TLV (spec 2.2.3 defines one checksum); HAProxy checks each CRC32C TLV in turn after zeroing it, so a chained pair passes"),
        ["v2-local-crc32c-wrong"] = new("rejected", "accepted real", "HAProxy 2.6 parses no TLVs for LOCAL (fixed in 3.0, commit 8b72270e9), so it never checks the CRC32C; ours verifies it (spec 2.2.3)"),
        ["v2-tcp4-ssl-length-4"] = new("rejected", "accepted 1.2.3.4 1 5.6.7.8 2", V2Ssl),
        ["v2-tcp4-ssl-length-0"] = new("rejected", "accepted 1.2.3.4 1 5.6.7.8 2", V2Ssl),
        ["v2-tcp4-ssl-subtlv-past-end"] = new("rejected", "accepted 1.2.3.4 1 5.6.7.8 2", V2Ssl),
        ["v2-tcp4-ssl-subtlv-header-truncated"] = new("rejected", "accepted 1.2.3.4 1 5.6.7.8 2", V2Ssl),
        ["v2-tcp4-header-4097"] = new("rejected", "accepted 1.2.3.4 1 5.6.7.8 2", "ours rejects headers over ProxyHeaderParserOptions.MaxHeaderSize (default 4096); HAProxy accepts up to its buffer size (tune.bufsize, 16384)"),
    };
}
