using System.Buffers;
using System.Net;
using System.Net.Security;
using System.Net.Sockets;
using ProxyKestrel.Gateway.Lifecycle;

namespace ProxyKestrel.Gateway.Tests.Lifecycle;

public class TlsClientHelloTests
{
    [Fact]
    public async Task TryReadServerName_RealClientHello_FindsSniOnlyOnceTheRecordIsComplete()
    {
        byte[] hello = await CaptureClientHelloAsync("smtp.example.test");
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
        byte[] hello = await CaptureClientHelloAsync("split.example.test");
        for (int split = 1; split < hello.Length; split++)
        {
            var first = new Segment(hello.AsMemory(0, split));
            Segment last = first.Append(hello.AsMemory(split));
            var sequence = new ReadOnlySequence<byte>(first, 0, last, last.Memory.Length);
            Assert.Equal(ClientHelloStatus.Found, TlsClientHello.TryReadServerName(sequence, out string? name));
            Assert.Equal("split.example.test", name);
        }
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
        byte[] hello = await CaptureClientHelloAsync("fuzz.example.test");
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

    /// <summary>The first bytes a real <see cref="SslStream"/> client sends: its ClientHello.</summary>
    private static async Task<byte[]> CaptureClientHelloAsync(string serverName)
    {
        using var listener = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        listener.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        listener.Listen(1);
        using var client = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        await client.ConnectAsync(listener.LocalEndPoint!);
        using Socket server = await listener.AcceptAsync();
        var tls = new SslStream(new NetworkStream(client, ownsSocket: false));
        Task handshake = tls.AuthenticateAsClientAsync(new SslClientAuthenticationOptions { TargetHost = serverName });

        byte[] buffer = new byte[64 * 1024];
        int filled = 0;
        while (filled < 5 || filled < 5 + ((buffer[3] << 8) | buffer[4]))
        {
            using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(10));
            filled += await server.ReceiveAsync(buffer.AsMemory(filled), SocketFlags.None, cts.Token);
        }

        server.Close();
        await Assert.ThrowsAnyAsync<Exception>(() => handshake);
        await tls.DisposeAsync();
        return buffer[..filled];
    }

    private sealed class Segment : ReadOnlySequenceSegment<byte>
    {
        public Segment(ReadOnlyMemory<byte> memory) => Memory = memory;

        public Segment Append(ReadOnlyMemory<byte> memory)
        {
            var next = new Segment(memory) { RunningIndex = RunningIndex + Memory.Length };
            Next = next;
            return next;
        }
    }
}
