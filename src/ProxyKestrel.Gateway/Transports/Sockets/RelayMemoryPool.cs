using System.Buffers;
using System.Collections.Concurrent;
using Microsoft.AspNetCore.Connections;

namespace ProxyKestrel.Gateway.Transports.Sockets;

/// <summary>
/// A memory pool of pinned 64 KiB blocks for the TCP listeners' socket transport. Kestrel's default pool hands out
/// 4 KiB blocks, which caps every receive at 4 KiB; relaying bulk data wants one large receive per wake-up.
/// Every <see cref="Rent"/> returns a whole block whatever size is asked for (the pipe asks for its minimum segment
/// size). Blocks are allocated on the pinned object heap (the socket pins nothing per operation), returned to the
/// pool when their owner is disposed, and at most <see cref="MaxRetainedBlocks"/> are kept; the rest, and any
/// returned after the pool is disposed, are left to the GC. Every <see cref="TrimPeriod"/> the pool lets go of half
/// of the blocks that stayed free during the whole period (the lowest free count seen), so a burst's blocks go back
/// to the GC within about a minute and a half of quiet while a steadily busy pool keeps what it uses.
/// </summary>
internal sealed class RelayMemoryPool : MemoryPool<byte>
{
    /// <summary>The size of every block: 64 KiB.</summary>
    public const int BlockSize = 64 * 1024;

    /// <summary>How many free blocks the pool keeps at most (16 MiB).</summary>
    public const int MaxRetainedBlocks = 256;

    /// <summary>How often the pool releases blocks that were not needed during the period.</summary>
    public static readonly TimeSpan TrimPeriod = TimeSpan.FromSeconds(10);

    private readonly ConcurrentQueue<Block> _free = new();
    private readonly ITimer _trim;
    private int _freeCount;

    /// <summary>The lowest <see cref="_freeCount"/> since the last trim: that many blocks were never needed.</summary>
    private int _lowestFree;
    private volatile bool _disposed;

    public RelayMemoryPool()
        : this(TimeProvider.System)
    {
    }

    public RelayMemoryPool(TimeProvider timeProvider)
    {
        // The timer holds the pool weakly: a pool nobody disposes is still collected, and its timer with it.
        _trim = timeProvider.CreateTimer(
            static state => (((WeakReference<RelayMemoryPool>)state!).TryGetTarget(out RelayMemoryPool? pool) ? pool : null)?.Trim(),
            new WeakReference<RelayMemoryPool>(this),
            TrimPeriod,
            TrimPeriod);
    }

    /// <summary>Free blocks the pool holds now.</summary>
    internal int FreeBlocks => Volatile.Read(ref _freeCount);

    public override int MaxBufferSize => BlockSize;

    public override IMemoryOwner<byte> Rent(int minBufferSize = -1)
    {
        ArgumentOutOfRangeException.ThrowIfGreaterThan(minBufferSize, BlockSize);
        ObjectDisposedException.ThrowIf(_disposed, this);
        if (_free.TryDequeue(out Block? block))
        {
            int left = Interlocked.Decrement(ref _freeCount);
            if (left < Volatile.Read(ref _lowestFree))
            {
                // Racy by design: an estimate; a lost update costs at most a block allocated again after the next trim.
                Volatile.Write(ref _lowestFree, left);
            }

            block.Rented = true;
            return block;
        }

        return new Block(this);
    }

    /// <summary>Releases half (rounded up) of the blocks that stayed free since the last trim.</summary>
    internal void Trim()
    {
        int unused = Math.Min(Volatile.Read(ref _lowestFree), Volatile.Read(ref _freeCount));
        for (int released = 0; released < (unused + 1) / 2 && _free.TryDequeue(out _); released++)
        {
            Interlocked.Decrement(ref _freeCount);
        }

        Volatile.Write(ref _lowestFree, Volatile.Read(ref _freeCount));
    }

    protected override void Dispose(bool disposing)
    {
        _disposed = true;
        _trim.Dispose();
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
