using System.Buffers;
using System.Net;
using System.Net.Security;
using System.Net.Sockets;
using ProxyKestrel.Gateway.Lifecycle;
using ProxyKestrel.Gateway.Tests.Infrastructure;
using ProxyKestrel.Testing;

namespace ProxyKestrel.Gateway.Tests.Lifecycle;

[ProxyKestrel.Gateway.Tests.Infrastructure.Transports.NotPerTransport("pure parsing; no gateway")]
public class TlsClientHelloTests
{
    [Fact]
    public async Task TryReadServerName_RealClientHello_FindsSniOnlyOnceTheRecordIsComplete()
    {
        byte[] hello = await ClientHellos.CaptureAsync("smtp.example.test");
        int recordEnd = 5 + ((hello[3] << 8) | hello[4]);

        for (int length = 0; length < recordEnd; length++)
        {
            ClientHelloStatus status = TlsClientHello.TryReadServerName(new ReadOnlySequence<byte>(hello, 0, length), out string? name);
            Assert.Equal(ClientHelloStatus.NeedMoreData, status);
            Assert.Null(name);
        }

        Assert.Equal(ClientHelloStatus.Found, TlsClientHello.TryReadServerName(new ReadOnlySequence<byte>(hello), out string? found));
        Assert.Equal("smtp.example.test", found);
    }

    [Fact]
    public async Task TryReadServerName_SplitAtEveryPosition_FindsTheSameName()
    {
        byte[] hello = await ClientHellos.CaptureAsync("split.example.test");
        for (int split = 1; split < hello.Length; split++)
        {
            ReadOnlySequence<byte> sequence = Sequences.Split(hello, split);
            Assert.Equal(ClientHelloStatus.Found, TlsClientHello.TryReadServerName(sequence, out string? name));
            Assert.Equal("split.example.test", name);
        }
    }

    [Fact]
    public async Task TryRead_ClientHelloOfferingAlpn_FindsTheNameAndTheProtocolsAtEverySplit()
    {
        byte[] hello = await ClientHellos.CaptureAsync("alpn.example.test", "h2", "http/1.1");
        int recordEnd = 5 + ((hello[3] << 8) | hello[4]);
        for (int length = 0; length < recordEnd; length++)
        {
            Assert.Equal(ClientHelloStatus.NeedMoreData, TlsClientHello.TryRead(new ReadOnlySequence<byte>(hello, 0, length), readAlpn: true, out _, out _));
        }

        for (int split = 1; split < hello.Length; split++)
        {
            Assert.Equal(ClientHelloStatus.Found, TlsClientHello.TryRead(Sequences.Split(hello, split), readAlpn: true, out string? name, out string[]? alpn));
            Assert.Equal("alpn.example.test", name);
            Assert.Equal(["h2", "http/1.1"], alpn!);
        }

        Assert.Equal(ClientHelloStatus.Found, TlsClientHello.TryRead(Sequences.Bytewise(hello), readAlpn: false, out string? only, out string[]? none));
        Assert.Equal("alpn.example.test", only);
        Assert.Null(none);
    }

    [Fact]
    public async Task TryRead_ClientHelloWithoutAlpn_FindsTheNameAndNoProtocols()
    {
        byte[] hello = await ClientHellos.CaptureAsync("plain.example.test");
        Assert.Equal(ClientHelloStatus.Found, TlsClientHello.TryRead(new ReadOnlySequence<byte>(hello), readAlpn: true, out string? name, out string[]? alpn));
        Assert.Equal("plain.example.test", name);
        Assert.Null(alpn);
    }

    [Theory]
    [InlineData("EHLO client\r\n")]
    [InlineData("GET / HTTP/1.1\r\n")]
    [InlineData("PROXY TCP4 1.2.3.4 5.6.7.8 1 2\r\n")]
    public void TryReadServerName_PlainText_IsNotFoundAtOnce(string text)
    {
        byte[] bytes = System.Text.Encoding.ASCII.GetBytes(text);
        Assert.Equal(ClientHelloStatus.NotFound, TlsClientHello.TryReadServerName(new ReadOnlySequence<byte>(bytes), out _));
        Assert.Equal(ClientHelloStatus.NotFound, TlsClientHello.TryReadServerName(new ReadOnlySequence<byte>(bytes, 0, 1), out _));
    }

    [Fact]
    public async Task TryReadServerName_MutatedClientHello_NeverThrows()
    {
        byte[] hello = await ClientHellos.CaptureAsync("fuzz.example.test");
        var random = new Random(20261127);
        for (int i = 0; i < 5000; i++)
        {
            byte[] mutated = (byte[])hello.Clone();
            for (int k = 0; k < 1 + random.Next(4); k++)
            {
                mutated[random.Next(mutated.Length)] = (byte)random.Next(256);
            }

            int length = random.Next(mutated.Length + 1);
            ClientHelloStatus status = TlsClientHello.TryReadServerName(new ReadOnlySequence<byte>(mutated, 0, length), out _);
            Assert.True(Enum.IsDefined(status));
        }
    }
}
