using System.Buffers;
using System.IO.Pipelines;
using System.Net;
using System.Net.Sockets;
using Microsoft.AspNetCore.Connections;
using Microsoft.AspNetCore.Connections.Features;
using Microsoft.Extensions.Logging.Abstractions;
using ProxyKestrel.Gateway.Transports.Sockets;
using ProxyKestrel.Gateway.Tests.Infrastructure;

namespace ProxyKestrel.Gateway.Tests.Transports.Sockets;

/// <summary>
/// The TCP routes' transport hands its connections 64 KiB blocks from <see cref="RelayMemoryPool"/>, not Kestrel's
/// 4 KiB blocks: a connection's input holds more than 4 KiB in one segment.
/// </summary>
public class RelayTransportBufferTests
{
    [Fact]
    public async Task Connection_BulkUpload_InputSegmentsAreRelayPoolBlocks()
    {
        IConnectionListenerFactory factory = RelayTransport.CreateListenerFactory(NullLoggerFactory.Instance, TimeProvider.System);
        await using IConnectionListener listener = await factory.BindAsync(new IPEndPoint(IPAddress.Loopback, 0));
        using var client = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        await client.ConnectAsync(listener.EndPoint).WaitAsync(Net.Timeout);
        await using ConnectionContext connection = (await listener.AcceptAsync().AsTask().WaitAsync(Net.Timeout))!;

        RelayMemoryPool pool = Assert.IsType<RelayMemoryPool>(connection.Features.Get<IMemoryPoolFeature>()?.MemoryPool);
        Assert.Equal(64 * 1024, pool.MaxBufferSize);

        byte[] data = new byte[3 * 64 * 1024];
        new Random(3).NextBytes(data);
        await Net.SendAllAsync(client, data);

        // Wait (without consuming) until more than one block's worth is buffered, then look at the segments: with
        // Kestrel's default pool each would be at most 4 KiB.
        PipeReader input = connection.Transport.Input;
        ReadOnlySequence<byte> buffer;
        while (true)
        {
            ReadResult read = await input.ReadAsync().AsTask().WaitAsync(Net.Timeout);
            buffer = read.Buffer;
            if (buffer.Length > 64 * 1024 || read.IsCompleted)
            {
                break;
            }

            input.AdvanceTo(buffer.Start, buffer.End);
        }

        Assert.True(buffer.Length > 64 * 1024, $"only {buffer.Length} bytes arrived");
        Assert.True(buffer.First.Length > 4096, $"the first segment holds {buffer.First.Length} bytes");
        Assert.True(buffer.First.Length <= RelayMemoryPool.BlockSize);
        Assert.Equal(data.AsSpan(0, (int)buffer.Length).ToArray(), buffer.ToArray());
        input.AdvanceTo(buffer.End);
    }

    [Fact]
    public void Rent_AnySize_ReturnsA64KiBBlockAndReusesReturnedBlocks()
    {
        using var pool = new RelayMemoryPool();
        IMemoryOwner<byte> first = pool.Rent(1);
        Assert.Equal(RelayMemoryPool.BlockSize, first.Memory.Length);
        Memory<byte> memory = first.Memory;
        first.Dispose();
        first.Dispose();

        using IMemoryOwner<byte> second = pool.Rent();
        Assert.Equal(RelayMemoryPool.BlockSize, second.Memory.Length);
        Assert.True(second.Memory.Span == memory.Span, "the returned block was not reused");
        using IMemoryOwner<byte> third = pool.Rent(4096);
        Assert.False(third.Memory.Span == memory.Span, "a block was handed out twice");
        Assert.Throws<ArgumentOutOfRangeException>(() => pool.Rent(RelayMemoryPool.BlockSize + 1));
    }
}
