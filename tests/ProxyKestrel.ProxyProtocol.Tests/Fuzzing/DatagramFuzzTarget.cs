using System.Buffers;
using System.Net;
using System.Net.Sockets;

namespace ProxyKestrel.ProxyProtocol.Fuzzing;

/// <summary>
/// The <c>datagram</c> fuzz target of eng/fuzz (<c>--target datagram</c>; linked into the harness like
/// <see cref="CodecFuzzTarget"/>): each input is one datagram given to <see cref="ProxyDatagramReceiver.Receive(ReadOnlyMemory{byte}, EndPoint, out ProxyDatagram)"/>
/// by receivers of both modes and two header size limits, from a trusted remote as an <see cref="EndPoint"/> and as
/// a <see cref="SocketAddress"/>, and from an untrusted one. It must never throw; an accepted datagram's payload is the
/// input's suffix after exactly <see cref="ProxyHeader.Length"/> bytes, and the verdict agrees with the parser.
/// Any broken invariant throws <see cref="FuzzInvariantException"/>.
/// </summary>
public static class DatagramFuzzTarget
{
    private static readonly IPEndPoint Trusted = new(IPAddress.Loopback, 4000);
    private static readonly SocketAddress TrustedAddress = new IPEndPoint(IPAddress.Parse("::ffff:127.0.0.2"), 4000).Serialize();
    private static readonly IPEndPoint Untrusted = new(IPAddress.Parse("192.0.2.1"), 4000);

    private static readonly ProxyDatagramReceiver[] Receivers =
    [
        Create(ProxyProtocolMode.Required, UntrustedPeerBehavior.Reject, ProxyHeaderParserOptions.DefaultMaxHeaderSize),
        Create(ProxyProtocolMode.Optional, UntrustedPeerBehavior.Passthrough, ProxyHeaderParserOptions.MinMaxHeaderSize),
        Create(ProxyProtocolMode.Optional, UntrustedPeerBehavior.Reject, ProxyHeaderParserOptions.MaxMaxHeaderSize),
    ];

    /// <summary>Runs every receiver on one datagram.</summary>
    public static void Run(ReadOnlySpan<byte> input)
    {
        byte[] data = input.ToArray();
        foreach (ProxyDatagramReceiver receiver in Receivers)
        {
            ProxyDatagramStatus status = receiver.Receive(data, Trusted, out ProxyDatagram result);
            CheckTrusted(receiver, data, status, result);
            ProxyDatagramStatus fromAddress = receiver.Receive(data, TrustedAddress, out ProxyDatagram other);
            Check(fromAddress == status && other.Rejection == result.Rejection && other.Error == result.Error && other.Payload.Length == result.Payload.Length, "the SocketAddress overload disagrees with the EndPoint one");

            ProxyDatagramStatus untrusted = receiver.Receive(data, Untrusted, out ProxyDatagram dropped);
            if (receiver.UntrustedPeers == UntrustedPeerBehavior.Passthrough)
            {
                Check(untrusted == ProxyDatagramStatus.NoHeader && !dropped.HasHeader && dropped.Payload.Length == data.Length, "an untrusted peer under Passthrough did not get the whole datagram");
            }
            else
            {
                Check(untrusted == ProxyDatagramStatus.Rejected && dropped.Rejection == ProxyDatagramRejection.UntrustedPeer, "an untrusted peer under Reject was not rejected");
            }
        }
    }

    private static void CheckTrusted(ProxyDatagramReceiver receiver, byte[] data, ProxyDatagramStatus status, in ProxyDatagram result)
    {
        var options = new ProxyHeaderParserOptions { AllowedVersions = ProxyProtocolVersions.V2, MaxHeaderSize = receiver.MaxHeaderSize };
        ProxyParseStatus parsed = ProxyHeaderParser.Parse(new ReadOnlySequence<byte>(data), options, out ProxyHeader header, out _);
        bool streamOnDatagram = parsed == ProxyParseStatus.Complete && header.Command == ProxyCommand.Proxy && header.Transport == ProxyTransport.Stream;
        Check((status == ProxyDatagramStatus.Accepted) == (parsed == ProxyParseStatus.Complete && !streamOnDatagram), $"{status} while the parser says {parsed}");
        _ = result.GetClientEndPoint(Trusted);
        switch (status)
        {
            case ProxyDatagramStatus.Accepted:
                Check(result.HasHeader && result.Rejection == ProxyDatagramRejection.None && result.Error == ProxyParseError.None, "Accepted with a rejection or without a header");
                Check(result.Header.Version == ProxyProtocolVersion.V2 && result.Header.Length == header.Length, "Accepted a header the parser reads otherwise");
                Check(result.Header.Length + result.Payload.Length == data.Length, "header length + payload length differs from the datagram length");
                Check(data.AsSpan().Overlaps(result.Payload.Span, out int offset) || result.Payload.IsEmpty, "the payload is not a slice of the datagram");
                Check(result.Payload.IsEmpty || offset == result.Header.Length, "the payload does not start right after the header");
                Check(result.Header.Length <= receiver.MaxHeaderSize, "Accepted a header over MaxHeaderSize");
                Check(result.TryGetClientEndPoint(out IPEndPoint? client) == result.Header.HasIPEndPoints && (client is null || client.Port == result.Header.SourcePort), "TryGetClientEndPoint disagrees with the header");
                break;
            case ProxyDatagramStatus.NoHeader:
                Check(receiver.Mode == ProxyProtocolMode.Optional, "NoHeader from a trusted peer in Required mode");
                Check(!result.HasHeader && result.Payload.Length == data.Length && result.Rejection == ProxyDatagramRejection.None, "NoHeader without the whole datagram");
                Check(data.Length < 1 || (data[0] != 0x0D || !ProxyHeaderParser.V2Signature.StartsWith(data.AsSpan(0, Math.Min(data.Length, 12)))), "NoHeader for the start of a v2 signature");
                Check(!data.AsSpan().StartsWith(ProxyHeaderParser.V1Prefix), "NoHeader for a v1 header");
                break;
            case ProxyDatagramStatus.Rejected:
                Check(!result.HasHeader && result.Payload.IsEmpty && result.Rejection != ProxyDatagramRejection.None, "Rejected with a header, a payload or no reason");
                Check(result.Rejection != ProxyDatagramRejection.InvalidHeader || result.Error != ProxyParseError.None, "InvalidHeader without a parse error");
                Check(result.Rejection != ProxyDatagramRejection.StreamTransport || streamOnDatagram, "StreamTransport for a header that is not a stream PROXY header");
                Check(result.Rejection != ProxyDatagramRejection.Truncated || parsed == ProxyParseStatus.NeedMoreData, "Truncated while the parser does not need more data");
                break;
            default:
                throw new FuzzInvariantException($"unknown status {status}");
        }
    }

    private static ProxyDatagramReceiver Create(ProxyProtocolMode mode, UntrustedPeerBehavior untrusted, int maxHeaderSize) =>
        ProxyDatagramReceiver.Create(new ProxyProtocolOptions { Mode = mode, UntrustedPeers = untrusted, MaxHeaderSize = maxHeaderSize });

    private static void Check(bool condition, string message)
    {
        if (!condition)
        {
            throw new FuzzInvariantException(message);
        }
    }
}
