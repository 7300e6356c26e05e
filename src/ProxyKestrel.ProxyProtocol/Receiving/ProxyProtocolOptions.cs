
namespace ProxyKestrel.ProxyProtocol;

/// <summary>
/// How a receiver accepts PROXY headers: whom it trusts, whether a header is required, how long it waits, which
/// versions and sizes it accepts. Used by the Kestrel middleware (section <c>ProxyProtocol</c>) and by the gateway's
/// <c>AcceptProxyProtocol</c>; the property names are the configuration keys.
/// </summary>
public sealed class ProxyProtocolOptions
{
    /// <summary>The configuration section the options are bound from.</summary>
    public const string SectionName = "ProxyProtocol";

    /// <summary>The default <see cref="HeaderTimeout"/>: 5 seconds.</summary>
    public static readonly TimeSpan DefaultHeaderTimeout = TimeSpan.FromSeconds(5);

    /// <summary>The smallest <see cref="HeaderTimeout"/>: 3 seconds, to cover a TCP retransmit, as the specification advises.</summary>
    public static readonly TimeSpan MinHeaderTimeout = TimeSpan.FromSeconds(3);

    /// <summary>The largest <see cref="HeaderTimeout"/>: 5 minutes.</summary>
    public static readonly TimeSpan MaxHeaderTimeout = TimeSpan.FromMinutes(5);

    /// <summary>
    /// Networks (CIDR, e.g. <c>10.0.0.0/8</c>, <c>fd00::/8</c>; a bare address means a single host) whose peers may
    /// send a header. Default: loopback only, <c>127.0.0.0/8</c> and <c>::1/128</c>. IPv4-mapped IPv6 peers
    /// (<c>::ffff:a.b.c.d</c>) match their IPv4 network. Setting this list replaces the default.
    /// </summary>
    public IList<string> TrustedNetworks { get; set; } = ["127.0.0.0/8", "::1/128"];

    /// <summary>What to do with peers outside <see cref="TrustedNetworks"/>. Default: <see cref="UntrustedPeerBehavior.Reject"/>.</summary>
    public UntrustedPeerBehavior UntrustedPeers { get; set; } = UntrustedPeerBehavior.Reject;

    /// <summary>Whether trusted peers must send a header. Default: <see cref="ProxyProtocolMode.Required"/>.</summary>
    public ProxyProtocolMode Mode { get; set; } = ProxyProtocolMode.Required;

    /// <summary>How long a trusted peer has to deliver the complete header; then the connection is closed. Default 5 s, allowed 3 s – 5 min.</summary>
    public TimeSpan HeaderTimeout { get; set; } = DefaultHeaderTimeout;

    /// <summary>
    /// The largest v2 header accepted, in bytes (16-byte fixed part included). Default 4096, allowed
    /// <see cref="ProxyHeaderParserOptions.MinMaxHeaderSize"/> – <see cref="ProxyHeaderParserOptions.MaxMaxHeaderSize"/>.
    /// </summary>
    public int MaxHeaderSize { get; set; } = ProxyHeaderParserOptions.DefaultMaxHeaderSize;

    /// <summary>Which header versions are accepted: <c>V1</c>, <c>V2</c> or <c>All</c> (default).</summary>
    public ProxyProtocolVersions AllowedVersions { get; set; } = ProxyProtocolVersions.All;

    /// <summary>Returns a copy (the network list is copied too).</summary>
    public ProxyProtocolOptions Clone() => new()
    {
        TrustedNetworks = [.. TrustedNetworks],
        UntrustedPeers = UntrustedPeers,
        Mode = Mode,
        HeaderTimeout = HeaderTimeout,
        MaxHeaderSize = MaxHeaderSize,
        AllowedVersions = AllowedVersions,
    };
}
