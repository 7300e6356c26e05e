using System.Buffers;
using Microsoft.Extensions.Time.Testing;
using ProxyKestrel.Gateway.Transports.Sockets;

namespace ProxyKestrel.Gateway.Tests.Transports.Sockets;

/// <summary>The socket transport's block pool gives back what a burst left behind, on the pool's clock.</summary>
public class RelayMemoryPoolTests
{
    [Fact]
    public void Trim_BlocksUnusedForWholePeriods_HalfReleasedEachPeriodUntilNoneLeft()
    {
        var time = new FakeTimeProvider();
        using var pool = new RelayMemoryPool(time);
        ReturnAll(RentMany(pool, 20));
        Assert.Equal(20, pool.FreeBlocks);

        // The first period saw the pool empty (before the burst): nothing was unused all along.
        time.Advance(RelayMemoryPool.TrimPeriod);
        Assert.Equal(20, pool.FreeBlocks);

        int[] expected = [10, 5, 2, 1, 0, 0];
        foreach (int left in expected)
        {
            time.Advance(RelayMemoryPool.TrimPeriod);
            Assert.Equal(left, pool.FreeBlocks);
        }
    }

    [Fact]
    public void Trim_PoolDrainedInEveryPeriod_KeepsItsBlocks()
    {
        var time = new FakeTimeProvider();
        using var pool = new RelayMemoryPool(time);
        ReturnAll(RentMany(pool, 16));
        for (int period = 0; period < 5; period++)
        {
            // All 16 blocks in use at some point of the period, then back.
            ReturnAll(RentMany(pool, 16));
            time.Advance(RelayMemoryPool.TrimPeriod);
            Assert.Equal(16, pool.FreeBlocks);
        }
    }

    [Fact]
    public void Trim_PartlyUsedPool_ReleasesOnlyFromTheUnusedPart()
    {
        var time = new FakeTimeProvider();
        using var pool = new RelayMemoryPool(time);
        ReturnAll(RentMany(pool, 20));
        time.Advance(RelayMemoryPool.TrimPeriod);

        // At most 8 in use at once during the next period: 12 stayed free, 6 of them go.
        ReturnAll(RentMany(pool, 8));
        time.Advance(RelayMemoryPool.TrimPeriod);
        Assert.Equal(14, pool.FreeBlocks);

        // The 14 kept blocks and new ones serve the next burst, none handed out twice.
        List<IMemoryOwner<byte>> again = RentMany(pool, 30);
        Assert.Equal(30, again.Select(b => b.Memory).Distinct().Count());
        Assert.Equal(0, pool.FreeBlocks);
        ReturnAll(again);
    }

    private static List<IMemoryOwner<byte>> RentMany(RelayMemoryPool pool, int count) =>
        [.. Enumerable.Range(0, count).Select(_ => pool.Rent())];

    private static void ReturnAll(List<IMemoryOwner<byte>> blocks) => blocks.ForEach(b => b.Dispose());
}
