using System.Buffers;
using System.Collections.Concurrent;
using Microsoft.AspNetCore.Connections;

namespace ProxyKestrel.Gateway.Relay;

/// <summary>
/// A memory pool of pinned 64 KiB blocks for the TCP listeners' socket transport. Kestrel's default pool hands out
/// 4 KiB blocks, which caps every receive at 4 KiB; relaying bulk data wants one large receive per wake-up.
/// Every <see cref="Rent"/> returns a whole block whatever size is asked for (the pipe asks for its minimum segment
/// size). Blocks are allocated on the pinned object heap (the socket pins nothing per operation), returned to the
/// pool when their owner is disposed, and at most <see cref="MaxRetainedBlocks"/> are kept; the rest, and any
/// returned after the pool is disposed, are left to the GC.
/// </summary>
internal sealed class RelayMemoryPool : MemoryPool<byte>
{
    /// <summary>The size of every block: 64 KiB.</summary>
    public const int BlockSize = 64 * 1024;

    /// <summary>How many free blocks the pool keeps at most (16 MiB).</summary>
    public const int MaxRetainedBlocks = 256;

    private readonly ConcurrentQueue<Block> _free = new();
    private int _freeCount;
    private volatile bool _disposed;

    public override int MaxBufferSize => BlockSize;

    public override IMemoryOwner<byte> Rent(int minBufferSize = -1)
    {
        ArgumentOutOfRangeException.ThrowIfGreaterThan(minBufferSize, BlockSize);
        ObjectDisposedException.ThrowIf(_disposed, this);
        if (_free.TryDequeue(out Block? block))
        {
            Interlocked.Decrement(ref _freeCount);
            block.Rented = true;
            return block;
        }

        return new Block(this);
    }

    protected override void Dispose(bool disposing)
    {
        _disposed = true;
        while (_free.TryDequeue(out _))
        {
        }
    }

    private void Return(Block block)
    {
        if (_disposed || Interlocked.Increment(ref _freeCount) > MaxRetainedBlocks)
        {
            if (!_disposed)
            {
                Interlocked.Decrement(ref _freeCount);
            }

            return;
        }

        _free.Enqueue(block);
    }

    private sealed class Block : IMemoryOwner<byte>
    {
        private readonly RelayMemoryPool _pool;

        public Block(RelayMemoryPool pool)
        {
            _pool = pool;
            Memory = GC.AllocateUninitializedArray<byte>(BlockSize, pinned: true);
            Rented = true;
        }

        public Memory<byte> Memory { get; }

        public bool Rented { get; set; }

        public void Dispose()
        {
            if (!Rented)
            {
                return;
            }

            Rented = false;
            _pool.Return(this);
        }
    }
}
