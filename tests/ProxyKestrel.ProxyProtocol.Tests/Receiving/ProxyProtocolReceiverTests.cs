using System.Buffers;
using System.Net;
using System.Net.Sockets;
using ProxyKestrel.ProxyProtocol.Tests.Infrastructure;
using ProxyKestrel.Testing;
using static ProxyKestrel.ProxyProtocol.Tests.Infrastructure.Bytes;

namespace ProxyKestrel.ProxyProtocol.Tests.Receiving;

public class ProxyProtocolReceiverTests
{
    private const string V1Line = "PROXY TCP4 192.168.0.1 192.168.0.11 56324 443\r\n";

    private static ProxyProtocolReceiver Create(ProxyProtocolOptions? options = null)
    {
        var errors = new List<string>();
        Assert.True(ProxyProtocolReceiver.TryCreate(options ?? new ProxyProtocolOptions(), "X", errors, out ProxyProtocolReceiver? receiver), string.Join(Environment.NewLine, errors));
        Assert.Empty(errors);
        return Assert.IsType<ProxyProtocolReceiver>(receiver);
    }

    private static ProxyReceiveStatus Evaluate(ProxyProtocolReceiver receiver, byte[] bytes, bool isCompleted, out ProxyHeader header, out ProxyParseError error) =>
        receiver.Evaluate(new ReadOnlySequence<byte>(bytes), isCompleted, out header, out error);

    private static ProxyReceiveStatus Evaluate(ProxyProtocolReceiver receiver, string text, bool isCompleted, out ProxyParseError error) =>
        Evaluate(receiver, Ascii(text), isCompleted, out _, out error);

    [Fact]
    public void TryCreate_Defaults_CopiesSettings()
    {
        ProxyProtocolReceiver receiver = Create();
        Assert.Equal(UntrustedPeerBehavior.Reject, receiver.UntrustedPeers);
        Assert.Equal(ProxyProtocolMode.Required, receiver.Mode);
        Assert.Equal(ProxyProtocolOptions.DefaultHeaderTimeout, receiver.HeaderTimeout);
        Assert.Equal(ProxyProtocolVersions.All, receiver.ParserOptions.AllowedVersions);
        Assert.Equal(ProxyHeaderParserOptions.DefaultMaxHeaderSize, receiver.ParserOptions.MaxHeaderSize);
    }

    [Fact]
    public void TryCreate_CustomOptions_CopiesSettings()
    {
        ProxyProtocolReceiver receiver = Create(new ProxyProtocolOptions
        {
            UntrustedPeers = UntrustedPeerBehavior.Passthrough,
            Mode = ProxyProtocolMode.Optional,
            HeaderTimeout = TimeSpan.FromSeconds(30),
            MaxHeaderSize = 100,
            AllowedVersions = ProxyProtocolVersions.V2,
        });
        Assert.Equal(UntrustedPeerBehavior.Passthrough, receiver.UntrustedPeers);
        Assert.Equal(ProxyProtocolMode.Optional, receiver.Mode);
        Assert.Equal(TimeSpan.FromSeconds(30), receiver.HeaderTimeout);
        Assert.Equal(ProxyProtocolVersions.V2, receiver.ParserOptions.AllowedVersions);
        Assert.Equal(100, receiver.ParserOptions.MaxHeaderSize);
    }

    [Fact]
    public void TryCreate_InvalidOptions_FailsWithErrorsAndNoReceiver()
    {
        var errors = new List<string> { "earlier" };
        var options = new ProxyProtocolOptions { TrustedNetworks = ["10.0.0.1/8"], MaxHeaderSize = 1 };
        Assert.False(ProxyProtocolReceiver.TryCreate(options, "X", errors, out ProxyProtocolReceiver? receiver));
        Assert.Null(receiver);
        Assert.Equal(3, errors.Count);
        Assert.StartsWith("X:TrustedNetworks:0:", errors[1], StringComparison.Ordinal);
        Assert.StartsWith("X:MaxHeaderSize:", errors[2], StringComparison.Ordinal);
    }

    [Fact]
    public void TryCreate_EarlierErrorsInList_StillSucceedsForValidOptions()
    {
        var errors = new List<string> { "earlier" };
        Assert.True(ProxyProtocolReceiver.TryCreate(new ProxyProtocolOptions(), "X", errors, out ProxyProtocolReceiver? receiver));
        Assert.NotNull(receiver);
        Assert.Single(errors);
    }

    [Fact]
    public void TryCreate_LaterOptionChanges_DoNotAffectReceiver()
    {
        var options = new ProxyProtocolOptions();
        ProxyProtocolReceiver receiver = Create(options);
        options.TrustedNetworks.Add("10.0.0.0/8");
        options.Mode = ProxyProtocolMode.Optional;
        Assert.False(receiver.IsTrusted(new IPEndPoint(IPAddress.Parse("10.0.0.1"), 1)));
        Assert.Equal(ProxyProtocolMode.Required, receiver.Mode);
    }

    [Theory]
    [InlineData("127.0.0.1", true)]
    [InlineData("127.255.255.254", true)]
    [InlineData("10.0.0.1", false)]
    [InlineData("128.0.0.1", false)]
    [InlineData("::1", true)]
    [InlineData("::2", false)]
    [InlineData("::ffff:127.0.0.1", true)]
    [InlineData("::ffff:10.0.0.1", false)]
    [InlineData("::127.0.0.1", false)]
    public void IsTrusted_DefaultNetworks_LoopbackOnly(string address, bool expected) =>
        Assert.Equal(expected, Create().IsTrusted(new IPEndPoint(IPAddress.Parse(address), 12345)));

    [Theory]
    [InlineData("10.1.2.3", true)]
    [InlineData("10.255.0.0", true)]
    [InlineData("::ffff:10.9.9.9", true)]
    [InlineData("192.168.1.1", true)]
    [InlineData("192.168.1.2", false)]
    [InlineData("fd12::1", true)]
    [InlineData("fe80::1", false)]
    [InlineData("127.0.0.1", false)]
    [InlineData("::1", false)]
    public void IsTrusted_ConfiguredNetworks_ReplaceDefault(string address, bool expected)
    {
        ProxyProtocolReceiver receiver = Create(new ProxyProtocolOptions { TrustedNetworks = ["10.0.0.0/8", "192.168.1.1", "fd00::/8"] });
        Assert.Equal(expected, receiver.IsTrusted(new IPEndPoint(IPAddress.Parse(address), 1)));
    }

    [Fact]
    public void IsTrusted_EmptyNetworkList_TrustsNoIpPeer() =>
        Assert.False(Create(new ProxyProtocolOptions { TrustedNetworks = [] }).IsTrusted(new IPEndPoint(IPAddress.Loopback, 1)));

    [Fact]
    public void IsTrusted_Null_False() => Assert.False(Create().IsTrusted(null));

    [Fact]
    public void IsTrusted_DnsEndPoint_False() => Assert.False(Create().IsTrusted(new DnsEndPoint("localhost", 80)));

    [Fact]
    public void IsTrusted_UnknownEndPointType_False() => Assert.False(Create().IsTrusted(new OtherEndPoint()));

    [Fact]
    public void IsTrusted_UnixDomainSocketEndPoint_True() =>
        Assert.True(Create(new ProxyProtocolOptions { TrustedNetworks = [] }).IsTrusted(new UnixDomainSocketEndPoint("/tmp/proxykestrel-test.sock")));

    [Fact]
    public void Evaluate_CompleteV1Header_AcceptedWithLength()
    {
        byte[] bytes = Ascii(V1Line + "GET / HTTP/1.1\r\n");
        Assert.Equal(ProxyReceiveStatus.Accepted, Evaluate(Create(), bytes, false, out ProxyHeader header, out ProxyParseError error));
        Assert.Equal(ProxyParseError.None, error);
        Assert.Equal(V1Line.Length, header.Length);
    }

    [Fact]
    public void Evaluate_CompleteV1HeaderAfterPeerClosed_Accepted() =>
        Assert.Equal(ProxyReceiveStatus.Accepted, Evaluate(Create(), V1Line, true, out _));

    [Fact]
    public void Evaluate_CompleteV2Header_AcceptedWithLength()
    {
        byte[] bytes = V2(0x21, 0x11, Inet4Block);
        Assert.Equal(ProxyReceiveStatus.Accepted, Evaluate(Create(), bytes, false, out ProxyHeader header, out _));
        Assert.Equal(bytes.Length, header.Length);
    }

    [Fact]
    public void Evaluate_MultiSegmentV1Header_Accepted()
    {
        byte[] bytes = Ascii(V1Line);
        ReadOnlySequence<byte> sequence = Sequences.Split(bytes, 3, 20);
        Assert.Equal(ProxyReceiveStatus.Accepted, Create().Evaluate(sequence, false, out ProxyHeader header, out _));
        Assert.Equal(bytes.Length, header.Length);
    }

    [Theory]
    [InlineData("")]
    [InlineData("P")]
    [InlineData("PROXY ")]
    [InlineData("PROXY TCP4 192.168.0.1")]
    [InlineData("PROXY TCP4 192.168.0.1 192.168.0.11 56324 443\r")]
    public void Evaluate_Prefix_NeedMoreData(string text)
    {
        Assert.Equal(ProxyReceiveStatus.NeedMoreData, Evaluate(Create(), text, false, out ProxyParseError error));
        Assert.Equal(ProxyParseError.None, error);
    }

    [Fact]
    public void Evaluate_V2Prefix_NeedMoreData()
    {
        byte[] bytes = V2(0x21, 0x11, Inet4Block)[..20];
        Assert.Equal(ProxyReceiveStatus.NeedMoreData, Evaluate(Create(), bytes, false, out _, out _));
    }

    [Theory]
    [InlineData("")]
    [InlineData("PROXY ")]
    [InlineData("PROXY TCP4 192.168.0.1")]
    public void Evaluate_PrefixWhenPeerClosed_RejectedWithErrorNone(string text)
    {
        Assert.Equal(ProxyReceiveStatus.Rejected, Evaluate(Create(), text, true, out ProxyParseError error));
        Assert.Equal(ProxyParseError.None, error);
    }

    [Fact]
    public void Evaluate_PrefixWhenPeerClosedInOptionalMode_RejectedWithErrorNone()
    {
        var receiver = Create(new ProxyProtocolOptions { Mode = ProxyProtocolMode.Optional });
        Assert.Equal(ProxyReceiveStatus.Rejected, Evaluate(receiver, "PROX", true, out ProxyParseError error));
        Assert.Equal(ProxyParseError.None, error);
    }

    [Theory]
    [InlineData("GET / HTTP/1.1\r\n")]
    [InlineData("X")]
    [InlineData("PROXX")]
    public void Evaluate_GarbageInRequiredMode_RejectedNotProxyProtocol(string text)
    {
        Assert.Equal(ProxyReceiveStatus.Rejected, Evaluate(Create(), text, false, out ProxyParseError error));
        Assert.Equal(ProxyParseError.NotProxyProtocol, error);
    }

    [Fact]
    public void Evaluate_TlsClientHelloInRequiredMode_RejectedNotProxyProtocol()
    {
        Assert.Equal(ProxyReceiveStatus.Rejected, Evaluate(Create(), [0x16, 0x03, 0x01], false, out _, out ProxyParseError error));
        Assert.Equal(ProxyParseError.NotProxyProtocol, error);
    }

    [Theory]
    [InlineData("GET / HTTP/1.1\r\n", false)]
    [InlineData("X", false)]
    [InlineData("X", true)]
    [InlineData("PROXX", false)]
    public void Evaluate_GarbageInOptionalMode_NoHeader(string text, bool isCompleted)
    {
        var receiver = Create(new ProxyProtocolOptions { Mode = ProxyProtocolMode.Optional });
        Assert.Equal(ProxyReceiveStatus.NoHeader, Evaluate(receiver, Ascii(text), isCompleted, out ProxyHeader header, out ProxyParseError error));
        Assert.Equal(ProxyParseError.NotProxyProtocol, error);
        Assert.Equal(0, header.Length);
    }

    [Fact]
    public void Evaluate_TlsClientHelloInOptionalMode_NoHeader()
    {
        var receiver = Create(new ProxyProtocolOptions { Mode = ProxyProtocolMode.Optional });
        Assert.Equal(ProxyReceiveStatus.NoHeader, Evaluate(receiver, [0x16, 0x03, 0x01, 0x02, 0x00], false, out _, out _));
    }

    [Fact]
    public void Evaluate_BadHeaderPrefixInOptionalMode_Rejected()
    {
        var receiver = Create(new ProxyProtocolOptions { Mode = ProxyProtocolMode.Optional });
        Assert.Equal(ProxyReceiveStatus.Rejected, Evaluate(receiver, "PROXY TCP5", false, out ProxyParseError error));
        Assert.NotEqual(ProxyParseError.None, error);
        Assert.NotEqual(ProxyParseError.NotProxyProtocol, error);
    }

    [Fact]
    public void Evaluate_BadV1AddressInOptionalMode_Rejected()
    {
        var receiver = Create(new ProxyProtocolOptions { Mode = ProxyProtocolMode.Optional });
        Assert.Equal(ProxyReceiveStatus.Rejected, Evaluate(receiver, "PROXY TCP4 999.0.0.1 192.168.0.11 1 2\r\n", false, out ProxyParseError error));
        Assert.NotEqual(ProxyParseError.NotProxyProtocol, error);
    }

    [Theory]
    [InlineData(ProxyProtocolMode.Required)]
    [InlineData(ProxyProtocolMode.Optional)]
    public void Evaluate_V2WhenOnlyV1Allowed_RejectedV2NotAllowed(ProxyProtocolMode mode)
    {
        var receiver = Create(new ProxyProtocolOptions { Mode = mode, AllowedVersions = ProxyProtocolVersions.V1 });
        Assert.Equal(ProxyReceiveStatus.Rejected, Evaluate(receiver, V2(0x21, 0x11, Inet4Block), false, out _, out ProxyParseError error));
        Assert.Equal(ProxyParseError.V2NotAllowed, error);
    }

    [Theory]
    [InlineData(ProxyProtocolMode.Required)]
    [InlineData(ProxyProtocolMode.Optional)]
    public void Evaluate_V1WhenOnlyV2Allowed_RejectedV1NotAllowed(ProxyProtocolMode mode)
    {
        var receiver = Create(new ProxyProtocolOptions { Mode = mode, AllowedVersions = ProxyProtocolVersions.V2 });
        Assert.Equal(ProxyReceiveStatus.Rejected, Evaluate(receiver, V1Line, false, out ProxyParseError error));
        Assert.Equal(ProxyParseError.V1NotAllowed, error);
    }

    [Fact]
    public void Evaluate_V2LargerThanMaxHeaderSize_RejectedTooLarge()
    {
        // 16 + 12 + 40 = 68 bytes, over a limit of 64.
        byte[] header = V2(0x21, 0x11, Concat(Inet4Block, Tlv(0x01, new byte[37])));
        Assert.Equal(68, header.Length);
        var receiver = Create(new ProxyProtocolOptions { MaxHeaderSize = 64 });
        Assert.Equal(ProxyReceiveStatus.Rejected, Evaluate(receiver, header[..16], false, out _, out ProxyParseError error));
        Assert.Equal(ProxyParseError.V2HeaderTooLarge, error);
    }

    [Fact]
    public void Evaluate_V2AtMaxHeaderSize_Accepted()
    {
        byte[] bytes = V2(0x21, 0x11, Concat(Inet4Block, Tlv(0x01, new byte[37])));
        var receiver = Create(new ProxyProtocolOptions { MaxHeaderSize = bytes.Length });
        Assert.Equal(ProxyReceiveStatus.Accepted, Evaluate(receiver, bytes, false, out ProxyHeader header, out _));
        Assert.Equal(bytes.Length, header.Length);
    }

    [Fact]
    public void Evaluate_V2OverMaxHeaderSizeInOptionalMode_Rejected()
    {
        byte[] bytes = V2(0x21, 0x11, Concat(Inet4Block, Tlv(0x01, new byte[37])));
        var receiver = Create(new ProxyProtocolOptions { Mode = ProxyProtocolMode.Optional, MaxHeaderSize = bytes.Length - 1 });
        Assert.Equal(ProxyReceiveStatus.Rejected, Evaluate(receiver, bytes, false, out _, out ProxyParseError error));
        Assert.Equal(ProxyParseError.V2HeaderTooLarge, error);
    }

    private sealed class OtherEndPoint : EndPoint
    {
    }
}
