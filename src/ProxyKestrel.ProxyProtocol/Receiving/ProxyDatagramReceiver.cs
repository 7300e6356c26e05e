using System.Buffers;
using System.Diagnostics.CodeAnalysis;
using System.Net;
using System.Net.Sockets;

namespace ProxyKestrel.ProxyProtocol;

/// <summary>
/// Receives PROXY protocol v2 headers on datagrams (UDP, UNIX datagram sockets): each datagram carries its own header
/// in front of its payload (spec section 2.2, SOCK_DGRAM). Built from <see cref="ProxyProtocolOptions"/>:
/// <see cref="ProxyProtocolOptions.TrustedNetworks"/>, <see cref="ProxyProtocolOptions.UntrustedPeers"/>,
/// <see cref="ProxyProtocolOptions.Mode"/> and <see cref="ProxyProtocolOptions.MaxHeaderSize"/> apply as for
/// connections; <see cref="ProxyProtocolOptions.HeaderTimeout"/> does not (a datagram is complete or not at all);
/// only v2 is accepted (a v1 header is <see cref="ProxyDatagramRejection.V1Header"/>), so
/// <see cref="ProxyProtocolOptions.AllowedVersions"/> must include <c>V2</c>. Thread-safe; classifying a datagram
/// allocates nothing.
/// </summary>
/// <example>
/// <code>
/// var receiver = ProxyDatagramReceiver.Create(new ProxyProtocolOptions { TrustedNetworks = ["10.0.0.0/8"] });
/// ProxyDatagramStatus status = receiver.Receive(buffer.AsMemory(0, received), remote, out ProxyDatagram datagram);
/// if (status != ProxyDatagramStatus.Rejected)
/// {
///     Handle(datagram.GetClientEndPoint(remote), datagram.Payload);
/// }
/// </code>
/// </example>
public sealed class ProxyDatagramReceiver
{
    private readonly ProxyProtocolReceiver _receiver;
    private readonly ProxyHeaderParserOptions _parserOptions;

    private ProxyDatagramReceiver(ProxyProtocolReceiver receiver)
    {
        _receiver = receiver;
        _parserOptions = new ProxyHeaderParserOptions
        {
            AllowedVersions = ProxyProtocolVersions.V2,
            MaxHeaderSize = receiver.ParserOptions.MaxHeaderSize,
        };
    }

    /// <summary>Whether trusted peers must send a header.</summary>
    public ProxyProtocolMode Mode => _receiver.Mode;

    /// <summary>What happens to datagrams from peers outside the trusted networks.</summary>
    public UntrustedPeerBehavior UntrustedPeers => _receiver.UntrustedPeers;

    /// <summary>The largest v2 header accepted, in bytes, fixed part included.</summary>
    public int MaxHeaderSize => _parserOptions.MaxHeaderSize;

    /// <summary>Validates <paramref name="options"/> and compiles it.</summary>
    /// <exception cref="ArgumentException">The options are invalid; the message lists every problem, one per line.</exception>
    public static ProxyDatagramReceiver Create(ProxyProtocolOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        var errors = new List<string>();
        if (!TryCreate(options, ProxyProtocolOptions.SectionName, errors, out ProxyDatagramReceiver? receiver))
        {
            throw new ArgumentException("Invalid PROXY protocol options for datagrams:" + Environment.NewLine + string.Join(Environment.NewLine, errors), nameof(options));
        }

        return receiver;
    }

    /// <summary>
    /// Validates <paramref name="options"/> and compiles it. On failure <paramref name="errors"/> gets one message per
    /// problem, each naming <c>{prefix}:{key}</c>, what was wrong and what is allowed (the same checks as for
    /// connections, plus: <see cref="ProxyProtocolOptions.AllowedVersions"/> must include V2).
    /// </summary>
    public static bool TryCreate(ProxyProtocolOptions options, string prefix, List<string> errors, [NotNullWhen(true)] out ProxyDatagramReceiver? receiver)
    {
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(errors);
        bool valid = ProxyProtocolReceiver.TryCreate(options, prefix, errors, out ProxyProtocolReceiver? compiled);
        ProxyProtocolVersions versions = options.AllowedVersions;
        if (versions != ProxyProtocolVersions.None && (versions & ~ProxyProtocolVersions.All) == 0 && (versions & ProxyProtocolVersions.V2) == 0)
        {
            errors.Add($"{prefix}:AllowedVersions: '{versions}' accepts no datagram header (v1 is a TCP-only text format); allowed on datagrams: V2 or All.");
            valid = false;
        }

        receiver = valid && compiled is not null ? new ProxyDatagramReceiver(compiled) : null;
        return receiver is not null;
    }

    /// <summary>True when <paramref name="remote"/> lies in a trusted network (a UNIX socket peer is trusted, as for connections).</summary>
    public bool IsTrusted(EndPoint remote)
    {
        ArgumentNullException.ThrowIfNull(remote);
        return _receiver.IsTrusted(remote);
    }

    /// <summary>True when <paramref name="remote"/> lies in a trusted network (a UNIX socket peer is trusted). Allocates nothing.</summary>
    public bool IsTrusted(SocketAddress remote)
    {
        ArgumentNullException.ThrowIfNull(remote);
        return remote.Family == AddressFamily.Unix || _receiver.IsTrustedAddress(SocketAddressBytes.Address(remote));
    }

    /// <summary>
    /// Classifies one datagram received from <paramref name="remote"/>: see <see cref="ProxyDatagramStatus"/> and
    /// <see cref="ProxyDatagramRejection"/>. <paramref name="result"/> slices <paramref name="datagram"/>; nothing is copied.
    /// </summary>
    public ProxyDatagramStatus Receive(ReadOnlyMemory<byte> datagram, EndPoint remote, out ProxyDatagram result) =>
        Classify(datagram, IsTrusted(remote), out result);

    /// <summary>
    /// Classifies one datagram received from <paramref name="remote"/>, as filled in by
    /// <see cref="Socket.ReceiveFromAsync(Memory{byte}, SocketFlags, SocketAddress, CancellationToken)"/>. Allocates nothing.
    /// </summary>
    public ProxyDatagramStatus Receive(ReadOnlyMemory<byte> datagram, SocketAddress remote, out ProxyDatagram result) =>
        Classify(datagram, IsTrusted(remote), out result);

    private ProxyDatagramStatus Classify(ReadOnlyMemory<byte> datagram, bool trusted, out ProxyDatagram result)
    {
        if (!trusted)
        {
            return UntrustedPeers == UntrustedPeerBehavior.Passthrough
                ? NoHeader(datagram, out result)
                : Reject(ProxyDatagramRejection.UntrustedPeer, ProxyParseError.None, out result);
        }

        ReadOnlySpan<byte> bytes = datagram.Span;
        ReadOnlySpan<byte> signature = ProxyHeaderParser.V2Signature;
        bool headerStart = bytes.Length >= signature.Length ? bytes.StartsWith(signature) : !bytes.IsEmpty && signature.StartsWith(bytes);
        if (headerStart)
        {
            ProxyParseStatus status = ProxyHeaderParser.Parse(new ReadOnlySequence<byte>(datagram), _parserOptions, out ProxyHeader header, out ProxyParseError error);
            switch (status)
            {
                case ProxyParseStatus.Complete when header.Command == ProxyCommand.Proxy && header.Transport == ProxyTransport.Stream:
                    return Reject(ProxyDatagramRejection.StreamTransport, ProxyParseError.None, out result);
                case ProxyParseStatus.Complete:
                    result = new ProxyDatagram(header, hasHeader: true, datagram[header.Length..], ProxyParseError.None, ProxyDatagramRejection.None);
                    return ProxyDatagramStatus.Accepted;
                case ProxyParseStatus.Invalid:
                    return Reject(ProxyDatagramRejection.InvalidHeader, error, out result);
                default:
                    return Reject(ProxyDatagramRejection.Truncated, ProxyParseError.None, out result);
            }
        }

        if (bytes.StartsWith(ProxyHeaderParser.V1Prefix))
        {
            return Reject(ProxyDatagramRejection.V1Header, ProxyParseError.V1NotAllowed, out result);
        }

        return Mode == ProxyProtocolMode.Optional
            ? NoHeader(datagram, out result)
            : Reject(ProxyDatagramRejection.MissingHeader, ProxyParseError.NotProxyProtocol, out result);
    }

    private static ProxyDatagramStatus NoHeader(ReadOnlyMemory<byte> datagram, out ProxyDatagram result)
    {
        result = new ProxyDatagram(default, hasHeader: false, datagram, ProxyParseError.None, ProxyDatagramRejection.None);
        return ProxyDatagramStatus.NoHeader;
    }

    private static ProxyDatagramStatus Reject(ProxyDatagramRejection rejection, ProxyParseError error, out ProxyDatagram result)
    {
        result = new ProxyDatagram(default, hasHeader: false, ReadOnlyMemory<byte>.Empty, error, rejection);
        return ProxyDatagramStatus.Rejected;
    }
}
