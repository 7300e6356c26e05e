using System.Buffers;
using System.Net;
using System.Net.Sockets;
using System.Text;
using CsCheck;
using static ProxyKestrel.ProxyProtocol.Tests.Infrastructure.Bytes;
using static ProxyKestrel.ProxyProtocol.Tests.Receiving.DatagramBytes;

namespace ProxyKestrel.ProxyProtocol.Tests.Receiving;

public class ProxyDatagramReceiverTests
{
    private static readonly byte[] Hello = "hello"u8.ToArray();

    private static ProxyDatagramStatus Receive(ProxyDatagramReceiver receiver, byte[] datagram, out ProxyDatagram result, EndPoint? remote = null) =>
        receiver.Receive(datagram, remote ?? Loopback, out result);

    [Fact]
    public void Receive_V2Udp4_AcceptsWithPayloadSlice()
    {
        byte[] datagram = Udp4(Hello);

        Assert.Equal(ProxyDatagramStatus.Accepted, Receive(Receiver(), datagram, out ProxyDatagram result));

        Assert.True(result.HasHeader);
        Assert.Equal(ProxyDatagramRejection.None, result.Rejection);
        Assert.Equal(ProxyParseError.None, result.Error);
        Assert.Equal(ProxyAddressFamily.InterNetwork, result.Header.AddressFamily);
        Assert.Equal(ProxyTransport.Datagram, result.Header.Transport);
        Assert.Equal(28, result.Header.Length);
        Assert.Equal(Hello, result.Payload.ToArray());
        Assert.True(datagram.AsSpan().Overlaps(result.Payload.Span, out int offset) && offset == 28, "the payload is not a slice of the datagram");
        Assert.True(result.TryGetClientEndPoint(out IPEndPoint? client));
        Assert.Equal(new IPEndPoint(IPAddress.Parse("192.0.2.7"), 4242), client);
        Assert.Equal(client, result.GetClientEndPoint(Loopback));
        Assert.Equal(new IPEndPoint(IPAddress.Parse("198.51.100.1"), 53), result.Header.GetDestinationEndPoint());
    }

    [Fact]
    public void Receive_V2Udp6_AcceptsWithPayloadSlice()
    {
        var source = new IPEndPoint(IPAddress.Parse("2001:db8::7"), 5353);
        var destination = new IPEndPoint(IPAddress.Parse("2001:db8::1"), 443);
        byte[] datagram = Proxy(source, destination, Hello);

        Assert.Equal(ProxyDatagramStatus.Accepted, Receive(Receiver(), datagram, out ProxyDatagram result, new IPEndPoint(IPAddress.IPv6Loopback, 1)));

        Assert.Equal(ProxyAddressFamily.InterNetworkV6, result.Header.AddressFamily);
        Assert.Equal(ProxyTransport.Datagram, result.Header.Transport);
        Assert.Equal(52, result.Header.Length);
        Assert.Equal(Hello, result.Payload.ToArray());
        Assert.Equal(source, result.GetClientEndPoint(Loopback));
        Assert.Equal(destination, result.Header.GetDestinationEndPoint());
    }

    [Fact]
    public void Receive_V2WithTlvs_TlvsReadable()
    {
        byte[] datagram = Udp4(Hello, (ref ProxyV2HeaderWriter w) =>
        {
            w.AddAuthority("dns.example");
            w.AddUniqueId([1, 2, 3]);
            w.AddCrc32C();
        });

        Assert.Equal(ProxyDatagramStatus.Accepted, Receive(Receiver(), datagram, out ProxyDatagram result));

        Assert.True(result.Header.TryGetAuthority(out ReadOnlySequence<byte> authority));
        Assert.Equal("dns.example", Encoding.ASCII.GetString(authority));
        Assert.True(result.Header.TryGetUniqueId(out ReadOnlySequence<byte> id));
        Assert.Equal(new byte[] { 1, 2, 3 }, id.ToArray());
        Assert.True(result.Header.TryGetCrc32C(out _));
        Assert.Equal(Hello, result.Payload.ToArray());
    }

    [Fact]
    public void Receive_Crc32CMismatch_RejectedInvalidHeader()
    {
        byte[] datagram = Udp4(Hello, (ref ProxyV2HeaderWriter w) => w.AddCrc32C());
        datagram[HeaderLength(datagram) - 1] ^= 0x01; // the last checksum byte

        Assert.Equal(ProxyDatagramStatus.Rejected, Receive(Receiver(), datagram, out ProxyDatagram result));

        Assert.Equal(ProxyDatagramRejection.InvalidHeader, result.Rejection);
        Assert.Equal(ProxyParseError.V2Crc32CMismatch, result.Error);
        Assert.False(result.HasHeader);
        Assert.True(result.Payload.IsEmpty);
        Assert.False(result.TryGetClientEndPoint(out _));
    }

    [Theory]
    [InlineData(ProxyProtocolMode.Required)]
    [InlineData(ProxyProtocolMode.Optional)]
    public void Receive_V1Header_RejectedV1Header(ProxyProtocolMode mode)
    {
        byte[] datagram = Ascii("PROXY TCP4 192.0.2.7 198.51.100.1 4242 53\r\nhello");

        Assert.Equal(ProxyDatagramStatus.Rejected, Receive(Receiver(mode), datagram, out ProxyDatagram result));

        Assert.Equal(ProxyDatagramRejection.V1Header, result.Rejection);
        Assert.Equal(ProxyParseError.V1NotAllowed, result.Error);
    }

    [Theory]
    [InlineData("192.0.2.7", "198.51.100.1")]
    [InlineData("2001:db8::7", "2001:db8::1")]
    public void Receive_TcpFamily_RejectedStreamTransport(string source, string destination)
    {
        byte[] datagram = Proxy(new IPEndPoint(IPAddress.Parse(source), 1), new IPEndPoint(IPAddress.Parse(destination), 2), Hello, ProxyTransport.Stream);

        Assert.Equal(ProxyDatagramStatus.Rejected, Receive(Receiver(), datagram, out ProxyDatagram result));

        Assert.Equal(ProxyDatagramRejection.StreamTransport, result.Rejection);
        Assert.Equal(ProxyParseError.None, result.Error);
    }

    [Fact]
    public void Receive_UnixStream_RejectedStreamTransport()
    {
        byte[] buffer = new byte[512];
        int length = ProxyV2HeaderWriter.ProxyUnix(buffer, "/a"u8, "/b"u8, ProxyTransport.Stream).Complete();

        Assert.Equal(ProxyDatagramStatus.Rejected, Receive(Receiver(), buffer[..length], out ProxyDatagram result));
        Assert.Equal(ProxyDatagramRejection.StreamTransport, result.Rejection);
    }

    [Fact]
    public void Receive_UnixDatagramAndUnspec_AcceptedWithRealRemote()
    {
        byte[] buffer = new byte[512];
        int length = ProxyV2HeaderWriter.ProxyUnix(buffer, "/a"u8, "/b"u8, ProxyTransport.Datagram).Complete();
        byte[] unix = Concat(buffer[..length], Hello);
        byte[] unspec = Concat(V2(0x21, 0x00), Hello);

        foreach (byte[] datagram in new[] { unix, unspec })
        {
            Assert.Equal(ProxyDatagramStatus.Accepted, Receive(Receiver(), datagram, out ProxyDatagram result));
            Assert.Equal(Hello, result.Payload.ToArray());
            Assert.False(result.TryGetClientEndPoint(out _));
            Assert.Same(Loopback, result.GetClientEndPoint(Loopback));
        }
    }

    [Fact]
    public void Receive_LocalCommand_KeepsPayloadAndRealRemote()
    {
        byte[] buffer = new byte[64];
        int length = ProxyV2HeaderWriter.Local(buffer).Complete();
        byte[] local = Concat(buffer[..length], Hello);
        byte[] localTcp4 = Concat(V2(0x20, 0x11, Inet4Block), Hello); // LOCAL ignores the family: not a stream transport

        foreach (byte[] datagram in new[] { local, localTcp4 })
        {
            Assert.Equal(ProxyDatagramStatus.Accepted, Receive(Receiver(), datagram, out ProxyDatagram result));
            Assert.True(result.HasHeader);
            Assert.Equal(ProxyCommand.Local, result.Header.Command);
            Assert.Equal(Hello, result.Payload.ToArray());
            Assert.False(result.TryGetClientEndPoint(out _));
            Assert.Same(Loopback, result.GetClientEndPoint(Loopback));
        }
    }

    [Fact]
    public void Receive_LengthPastDatagramEnd_RejectedTruncated()
    {
        byte[] datagram = V2WithLength(0x21, 0x12, 40, Inet4Block); // announces 40 bytes, carries 12

        Assert.Equal(ProxyDatagramStatus.Rejected, Receive(Receiver(), datagram, out ProxyDatagram result));

        Assert.Equal(ProxyDatagramRejection.Truncated, result.Rejection);
    }

    [Theory]
    [InlineData(ProxyProtocolMode.Required)]
    [InlineData(ProxyProtocolMode.Optional)]
    public void Receive_EveryPrefixOfValidHeader_RejectedTruncated(ProxyProtocolMode mode)
    {
        byte[] datagram = Udp4([], (ref ProxyV2HeaderWriter w) =>
        {
            w.AddAuthority("a.example");
            w.AddCrc32C();
        });
        ProxyDatagramReceiver receiver = Receiver(mode);
        Assert.Equal(ProxyDatagramStatus.Accepted, Receive(receiver, datagram, out _));

        for (int length = 1; length < datagram.Length; length++)
        {
            ProxyDatagramStatus status = receiver.Receive(datagram.AsMemory(0, length), Loopback, out ProxyDatagram result);
            Assert.True(status == ProxyDatagramStatus.Rejected && result.Rejection == ProxyDatagramRejection.Truncated, $"a {length}-byte prefix gave {status} {result.Rejection}");
        }
    }

    [Fact]
    public void Receive_EmptyPayloadAfterHeader_Accepted()
    {
        byte[] datagram = Udp4([]);

        Assert.Equal(ProxyDatagramStatus.Accepted, Receive(Receiver(), datagram, out ProxyDatagram result));

        Assert.True(result.Payload.IsEmpty);
        Assert.True(result.TryGetClientEndPoint(out _));
    }

    [Fact]
    public void Receive_NoHeaderFromTrustedInRequiredMode_RejectedMissingHeader()
    {
        foreach (byte[] datagram in new[] { Hello, [] })
        {
            Assert.Equal(ProxyDatagramStatus.Rejected, Receive(Receiver(), datagram, out ProxyDatagram result));
            Assert.Equal(ProxyDatagramRejection.MissingHeader, result.Rejection);
            Assert.Equal(ProxyParseError.NotProxyProtocol, result.Error);
        }
    }

    [Fact]
    public void Receive_NoHeaderFromTrustedInOptionalMode_NoHeaderWithWholeDatagram()
    {
        byte[] datagram = Hello;

        Assert.Equal(ProxyDatagramStatus.NoHeader, Receive(Receiver(ProxyProtocolMode.Optional), datagram, out ProxyDatagram result));

        Assert.False(result.HasHeader);
        Assert.Equal(ProxyDatagramRejection.None, result.Rejection);
        Assert.True(datagram.AsSpan().Overlaps(result.Payload.Span, out int offset) && offset == 0 && result.Payload.Length == datagram.Length);
        Assert.Same(Loopback, result.GetClientEndPoint(Loopback));
    }

    [Fact]
    public void Receive_UntrustedPeerUnderReject_RejectedUntrustedPeer()
    {
        Assert.Equal(ProxyDatagramStatus.Rejected, Receive(Receiver(), Udp4(Hello), out ProxyDatagram result, Untrusted));

        Assert.Equal(ProxyDatagramRejection.UntrustedPeer, result.Rejection);
        Assert.False(result.HasHeader);
    }

    [Fact]
    public void Receive_UntrustedPeerUnderPassthrough_NoHeaderNothingParsed()
    {
        byte[] datagram = Udp4(Hello); // a header from an untrusted peer is not believed: it stays payload

        ProxyDatagramReceiver receiver = Receiver(untrusted: UntrustedPeerBehavior.Passthrough);
        Assert.Equal(ProxyDatagramStatus.NoHeader, Receive(receiver, datagram, out ProxyDatagram result, Untrusted));

        Assert.False(result.HasHeader);
        Assert.Equal(datagram, result.Payload.ToArray());
        Assert.Same(Untrusted, result.GetClientEndPoint(Untrusted));
        Assert.Equal(Untrusted, result.GetClientEndPoint(Untrusted.Serialize()));
    }

    [Theory]
    [InlineData("::ffff:127.0.0.5", true)]
    [InlineData("::ffff:192.0.2.1", false)]
    [InlineData("::1", true)]
    [InlineData("::2", false)]
    public void Receive_IPv6Remote_MatchesNetworksOfItsFamily(string remote, bool trusted)
    {
        var endPoint = new IPEndPoint(IPAddress.Parse(remote), 4000);
        ProxyDatagramReceiver receiver = Receiver();
        ProxyDatagramStatus expected = trusted ? ProxyDatagramStatus.Accepted : ProxyDatagramStatus.Rejected;

        Assert.Equal(expected, receiver.Receive(Udp4(Hello), endPoint, out _));
        Assert.Equal(expected, receiver.Receive(Udp4(Hello), endPoint.Serialize(), out ProxyDatagram result));
        Assert.Equal(trusted, receiver.IsTrusted(endPoint.Serialize()));
        Assert.Equal(trusted ? ProxyDatagramRejection.None : ProxyDatagramRejection.UntrustedPeer, result.Rejection);
    }

    [Fact]
    public void Receive_SocketAddressWithoutHeader_ClientIsTheRemote()
    {
        var remote = new IPEndPoint(IPAddress.Parse("127.0.0.9"), 5000);

        Assert.Equal(ProxyDatagramStatus.NoHeader, Receiver(ProxyProtocolMode.Optional).Receive(Hello, remote.Serialize(), out ProxyDatagram result));

        Assert.Equal(remote, result.GetClientEndPoint(remote.Serialize()));
    }

    [Fact]
    public void Receive_HeaderOverMaxHeaderSize_RejectedInvalidHeader()
    {
        ProxyDatagramReceiver receiver = ProxyDatagramReceiver.Create(new ProxyProtocolOptions { MaxHeaderSize = 64 });
        byte[] datagram = Udp4(Hello, (ref ProxyV2HeaderWriter w) => w.AddNoop(40));

        Assert.Equal(ProxyDatagramStatus.Rejected, receiver.Receive(datagram, Loopback, out ProxyDatagram result));

        Assert.Equal(ProxyDatagramRejection.InvalidHeader, result.Rejection);
        Assert.Equal(ProxyParseError.V2HeaderTooLarge, result.Error);
        Assert.Equal(64, receiver.MaxHeaderSize);
    }

    [Fact]
    public void TryCreate_V1Only_ReportsThatDatagramsNeedV2()
    {
        var errors = new List<string>();

        Assert.False(ProxyDatagramReceiver.TryCreate(new ProxyProtocolOptions { AllowedVersions = ProxyProtocolVersions.V1 }, "Udp", errors, out ProxyDatagramReceiver? receiver));

        Assert.Null(receiver);
        string error = Assert.Single(errors);
        Assert.StartsWith("Udp:AllowedVersions:", error, StringComparison.Ordinal);
    }

    [Fact]
    public void Create_InvalidOptions_ThrowsListingEveryError()
    {
        var options = new ProxyProtocolOptions { TrustedNetworks = ["10.0.0.1/8", "nope"], MaxHeaderSize = 1, AllowedVersions = ProxyProtocolVersions.V1 };

        ArgumentException e = Assert.Throws<ArgumentException>(() => ProxyDatagramReceiver.Create(options));

        Assert.Contains("ProxyProtocol:TrustedNetworks:0", e.Message, StringComparison.Ordinal);
        Assert.Contains("ProxyProtocol:TrustedNetworks:1", e.Message, StringComparison.Ordinal);
        Assert.Contains("ProxyProtocol:MaxHeaderSize", e.Message, StringComparison.Ordinal);
        Assert.Contains("ProxyProtocol:AllowedVersions", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Receive_RandomUdpHeaders_RoundTripAddressesPortsAndPayload()
    {
        Gen<IPAddress> ipv4 = Gen.Byte.Array[4].Select(b => new IPAddress(b));
        Gen<IPAddress> ipv6 = Gen.Byte.Array[16].Select(b => new IPAddress(b)).Where(a => !a.IsIPv4MappedToIPv6);
        Gen<(IPAddress Source, IPAddress Destination)> pair = Gen.OneOf(Gen.Select(ipv4, ipv4), Gen.Select(ipv6, ipv6));
        ProxyDatagramReceiver receiver = Receiver();

        Gen.Select(pair, Gen.Int[0, 65535], Gen.Int[0, 65535], Gen.Byte.Array[0, 600], Gen.Bool).Sample((addresses, sport, dport, payload, crc) =>
        {
            var source = new IPEndPoint(addresses.Source, sport);
            var destination = new IPEndPoint(addresses.Destination, dport);
            byte[] datagram = Proxy(source, destination, payload, ProxyTransport.Datagram, crc ? (ref ProxyV2HeaderWriter w) => w.AddCrc32C() : null);

            ProxyDatagramStatus status = receiver.Receive(datagram, Loopback, out ProxyDatagram result);

            return status == ProxyDatagramStatus.Accepted
                && result.GetClientEndPoint(Loopback).Equals(source)
                && destination.Equals(result.Header.GetDestinationEndPoint())
                && result.Header.Length + result.Payload.Length == datagram.Length
                && result.Payload.Span.SequenceEqual(payload)
                && result.Header.TryGetCrc32C(out _) == crc;
        }, iter: 1000);
    }

    [Fact]
    public async Task ReceiveProxyDatagramAsync_LoopbackSocket_ReturnsEveryDatagramWithItsStatus()
    {
        using var server = new Socket(AddressFamily.InterNetwork, SocketType.Dgram, ProtocolType.Udp);
        server.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        using var client = new Socket(AddressFamily.InterNetwork, SocketType.Dgram, ProtocolType.Udp);
        client.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        var serverEndPoint = (IPEndPoint)server.LocalEndPoint!;
        ProxyDatagramReceiver receiver = Receiver();
        byte[] buffer = new byte[65536];
        var remote = new SocketAddress(AddressFamily.InterNetwork);
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(10));

        await client.SendToAsync(Hello, SocketFlags.None, serverEndPoint);
        await client.SendToAsync(Udp4(Hello), SocketFlags.None, serverEndPoint);

        ProxyDatagramReceiveResult first = await server.ReceiveProxyDatagramAsync(buffer, remote, receiver, timeout.Token);
        Assert.Equal(ProxyDatagramStatus.Rejected, first.Status);
        Assert.Equal(ProxyDatagramRejection.MissingHeader, first.Datagram.Rejection);
        Assert.Equal(Hello.Length, first.ReceivedBytes);
        Assert.Equal(client.LocalEndPoint, first.Datagram.GetClientEndPoint(remote));

        ProxyDatagramReceiveResult second = await server.ReceiveProxyDatagramAsync(buffer, remote, receiver, timeout.Token);
        Assert.Equal(ProxyDatagramStatus.Accepted, second.Status);
        Assert.Equal(28 + Hello.Length, second.ReceivedBytes);
        Assert.Equal(Hello, second.Datagram.Payload.ToArray());
        Assert.Equal(new IPEndPoint(IPAddress.Parse("192.0.2.7"), 4242), second.Datagram.GetClientEndPoint(remote));
    }
}
