using System.Runtime.Versioning;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Time.Testing;
using ProxyKestrel.Gateway.Diagnostics;
using ProxyKestrel.Gateway.Lifecycle;
using ProxyKestrel.Gateway.Transports.Epoll;
using ProxyKestrel.Gateway.Tests.Infrastructure;

namespace ProxyKestrel.Gateway.Tests.Transports.Epoll;

/// <summary>
/// One event loop on its own (no listener, no connection), driven through <see cref="EpollLoop.InvokeAsync"/> with a
/// fake clock: a command that advances the clock makes its turn last that long in the loop's eyes. The clock only
/// moves inside commands, each in a turn of its own, so every turn's length is known exactly.
/// </summary>
[SupportedOSPlatform("linux")]
public class EpollLoopTests
{
    private const int SlowTurnEvent = 153;

    [LinuxFact]
    public async Task Run_TurnsLongerThanSlowTurn_ReportedOncePerPeriodWithTheSkippedOnesCounted()
    {
        var time = new FakeTimeProvider();
        var log = new ListLoggerProvider();
        // A loop without listeners never reaches the clusters or the destination connector.
        var transport = new EpollRouteTransport(new TcpConnectionLifecycle(null!, null!, new TcpProxyMetrics(null), new TcpConnectionCounts(), new TcpAccessLog(NullLoggerFactory.Instance), time, log.CreateLogger("epoll")));
        using var loop = new EpollLoop(transport, index: 7);

        // Just below the threshold: nothing.
        await TurnAsync(loop, time, EpollLoop.SlowTurn - TimeSpan.FromMilliseconds(1));
        Assert.Empty(SlowTurns(log));

        // The first slow turn is reported with its length (at t = 1.1 s).
        await TurnAsync(loop, time, TimeSpan.FromSeconds(1));
        string first = Assert.Single(SlowTurns(log));
        Assert.StartsWith("Event loop 7 spent 1000 ms in one turn", first, StringComparison.Ordinal);
        Assert.EndsWith("since the last report: 0.", first, StringComparison.Ordinal);

        // Two more within the report period (ending at 2.1 s and 3.1 s): counted, not logged.
        await TurnAsync(loop, time, TimeSpan.FromSeconds(1));
        await TurnAsync(loop, time, TimeSpan.FromSeconds(1));
        Assert.Single(SlowTurns(log));

        // One that ends after the period (12.1 s, 11 s after the report): logged, with the two skipped.
        await TurnAsync(loop, time, TimeSpan.FromSeconds(9));
        List<string> reports = SlowTurns(log);
        Assert.Equal(2, reports.Count);
        Assert.StartsWith("Event loop 7 spent 9000 ms in one turn", reports[1], StringComparison.Ordinal);
        Assert.EndsWith("since the last report: 2.", reports[1], StringComparison.Ordinal);
    }

    /// <summary>
    /// Runs a turn in which the clock moves by <paramref name="length"/>, and returns once a later turn has begun (the
    /// turn is measured at its end, and <see cref="EpollLoop.InvokeAsync"/> completes inside it).
    /// </summary>
    private static async Task TurnAsync(EpollLoop loop, FakeTimeProvider time, TimeSpan length)
    {
        long started = 0;
        await loop.InvokeAsync(() =>
        {
            started = loop.Now;
            time.Advance(length);
        });

        // A turn that begins after the advance has a later Now; commands posted meanwhile may still join the first.
        for (int attempt = 0; ; attempt++)
        {
            long seen = 0;
            await loop.InvokeAsync(() => seen = loop.Now);
            if (seen != started)
            {
                return;
            }

            Assert.True(attempt < 10_000, "no new turn of the loop began");
        }
    }

    private static List<string> SlowTurns(ListLoggerProvider log) =>
        [.. log.Entries.Where(e => e.EventId.Id == SlowTurnEvent).Select(e => e.Message)];
}
