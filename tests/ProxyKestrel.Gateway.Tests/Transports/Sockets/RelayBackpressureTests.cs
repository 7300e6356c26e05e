using System.Net;
using System.Net.Sockets;
using ProxyKestrel.Gateway.Tests.Infrastructure;

namespace ProxyKestrel.Gateway.Tests.Transports.Sockets;

/// <summary>
/// A side that does not read stalls the sender on the other side: the relay buffers a bounded amount (its pipe plus
/// the kernel's socket buffers) instead of reading everything into memory, and once the reader reads, every byte
/// arrives in order.
/// </summary>
public class RelayBackpressureTests
{
    private const int Total = 128 * 1024 * 1024;
    private const int Chunk = 64 * 1024;

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public async Task Relay_ReceiverNotReading_SenderStallsThenEverythingArrives(bool backendSends)
    {
        using var listener = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        listener.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        listener.Listen(8);
        await using GatewayHost gateway = await GatewayHost.StartAsync(GatewayRelayTests.Config($"tcp://{listener.LocalEndPoint}", ""));
        using Socket client = await Net.ConnectAsync(gateway.EndPointOf("r1"));
        using Socket backend = await listener.AcceptAsync().WaitAsync(Net.Timeout);
        Socket sender = backendSends ? backend : client;
        Socket receiver = backendSends ? client : backend;

        long sent = 0;
        Task sending = Task.Run(async () =>
        {
            byte[] chunk = new byte[Chunk];
            while (sent < Total)
            {
                Fill(chunk, sent);
                int n = await sender.SendAsync(chunk, SocketFlags.None);
                Interlocked.Add(ref sent, n);
                if (n < Chunk)
                {
                    throw new InvalidOperationException("partial send of a blocking-semantics SendAsync");
                }
            }
        });

        // Wait until the sender has made no progress for half a second.
        long last = -1;
        DateTime stableSince = DateTime.UtcNow;
        DateTime deadline = DateTime.UtcNow + TimeSpan.FromSeconds(20);
        while (DateTime.UtcNow < deadline && !sending.IsCompleted)
        {
            long now = Interlocked.Read(ref sent);
            if (now != last)
            {
                last = now;
                stableSince = DateTime.UtcNow;
            }
            else if (DateTime.UtcNow - stableSince > TimeSpan.FromMilliseconds(500))
            {
                break;
            }

            await Task.Delay(50);
        }

        long stalledAt = Interlocked.Read(ref sent);
        Assert.False(sending.IsCompleted, $"all {Total} bytes were taken while nobody read (sent {stalledAt})");
        Assert.True(stalledAt < Total / 2, $"{stalledAt} bytes were taken while nobody read");

        // Now read: every byte arrives, in order.
        byte[] buffer = new byte[256 * 1024];
        byte[] expected = new byte[buffer.Length];
        long received = 0;
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        while (received < Total)
        {
            int n = await receiver.ReceiveAsync(buffer, SocketFlags.None, timeout.Token);
            Assert.NotEqual(0, n);
            Fill(expected.AsSpan(0, n), received);
            Assert.True(buffer.AsSpan(0, n).SequenceEqual(expected.AsSpan(0, n)), $"wrong data at offset {received}");
            received += n;
        }

        await sending.WaitAsync(Net.Timeout);
        Assert.Equal(Total, received);
    }

    /// <summary>The byte at stream offset <c>i</c> is <c>i % 251</c> (a prime, so chunks do not line up with it).</summary>
    private static void Fill(Span<byte> span, long offset)
    {
        for (int i = 0; i < span.Length; i++)
        {
            span[i] = (byte)((offset + i) % 251);
        }
    }
}
