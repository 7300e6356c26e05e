using System.Buffers;
using System.Net;

namespace ProxyKestrel.ProxyProtocol;

/// <summary>
/// Validated, precompiled <see cref="ProxyProtocolOptions"/>: decides whether a peer is trusted and what the first
/// bytes of its connection mean. Transport-neutral: the Kestrel middleware and the gateway each read bytes their own
/// way and ask <see cref="Evaluate"/> after every read.
/// </summary>
internal sealed class ProxyProtocolReceiver
{
    private readonly IPNetworkSet _trustedNetworks;

    private ProxyProtocolReceiver(ProxyProtocolOptions options, IPNetworkSet networks)
    {
        _trustedNetworks = networks;
        UntrustedPeers = options.UntrustedPeers;
        Mode = options.Mode;
        HeaderTimeout = options.HeaderTimeout;
        ParserOptions = new ProxyHeaderParserOptions
        {
            AllowedVersions = options.AllowedVersions,
            MaxHeaderSize = options.MaxHeaderSize,
        };
    }

    /// <summary>What to do with peers outside the trusted networks.</summary>
    public UntrustedPeerBehavior UntrustedPeers { get; }

    /// <summary>Whether trusted peers must send a header.</summary>
    public ProxyProtocolMode Mode { get; }

    /// <summary>How long a trusted peer has to deliver its header.</summary>
    public TimeSpan HeaderTimeout { get; }

    /// <summary>The parser options (versions, size cap).</summary>
    public ProxyHeaderParserOptions ParserOptions { get; }

    /// <summary>
    /// Validates <paramref name="options"/> and compiles it. On failure <paramref name="errors"/> gets one message per
    /// problem, each naming <c>{prefix}:{key}</c>, what was wrong and what is allowed.
    /// </summary>
    public static bool TryCreate(ProxyProtocolOptions options, string prefix, List<string> errors, out ProxyProtocolReceiver? receiver)
    {
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(errors);
        int before = errors.Count;
        ProxyProtocolOptionsValidation.Validate(options, prefix, errors);
        if (errors.Count > before)
        {
            receiver = null;
            return false;
        }

        receiver = new ProxyProtocolReceiver(options, IPNetworkSet.Create(options.TrustedNetworks));
        return true;
    }

    /// <summary>True when <paramref name="remote"/> lies in a trusted network; IPv4-mapped IPv6 matches IPv4 networks.</summary>
    public bool IsTrusted(EndPoint? remote)
    {
        if (remote is not IPEndPoint ip)
        {
            // A UNIX socket: only a local process can connect. Any other non-IP endpoint is not trusted.
            return remote is System.Net.Sockets.UnixDomainSocketEndPoint;
        }

        return _trustedNetworks.Contains(ip.Address);
    }

    /// <summary>
    /// True when the address given by its network-order bytes (4 or 16) lies in a trusted network; IPv4-mapped IPv6
    /// matches IPv4 networks. Allocates nothing.
    /// </summary>
    public bool IsTrustedAddress(ReadOnlySpan<byte> addressBytes) => _trustedNetworks.Contains(addressBytes);

    /// <summary>
    /// Decides what the bytes received so far from a trusted peer mean. <see cref="ProxyReceiveStatus.Accepted"/>:
    /// consume <see cref="ProxyHeader.Length"/> bytes. <see cref="ProxyReceiveStatus.NoHeader"/> (Optional mode only):
    /// consume nothing and go on with the real endpoints. <see cref="ProxyReceiveStatus.Rejected"/>: close without
    /// writing; <paramref name="error"/> says why (<see cref="ProxyParseError.None"/> with
    /// <paramref name="isCompleted"/> means the peer closed before a complete header).
    /// </summary>
    public ProxyReceiveStatus Evaluate(in ReadOnlySequence<byte> buffer, bool isCompleted, out ProxyHeader header, out ProxyParseError error)
    {
        ProxyParseStatus status = ProxyHeaderParser.Parse(buffer, ParserOptions, out header, out error);
        switch (status)
        {
            case ProxyParseStatus.Complete:
                return ProxyReceiveStatus.Accepted;
            case ProxyParseStatus.Invalid when error == ProxyParseError.NotProxyProtocol && Mode == ProxyProtocolMode.Optional:
                return ProxyReceiveStatus.NoHeader;
            case ProxyParseStatus.Invalid:
                return ProxyReceiveStatus.Rejected;
            default:
                return isCompleted ? ProxyReceiveStatus.Rejected : ProxyReceiveStatus.NeedMoreData;
        }
    }
}
