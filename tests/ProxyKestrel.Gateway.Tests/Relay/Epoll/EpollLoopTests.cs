using System.Runtime.Versioning;
using Microsoft.Extensions.Time.Testing;
using ProxyKestrel.Gateway.Relay.Epoll;
using ProxyKestrel.Gateway.Tests.Infrastructure;

namespace ProxyKestrel.Gateway.Tests.Relay.Epoll;

/// <summary>
/// One event loop on its own (no listener, no connection), driven through <see cref="EpollLoop.InvokeAsync"/> with a
/// fake clock: a command that advances the clock makes that turn last as long in the loop's eyes.
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
        var transport = new EpollRouteTransport(clusters: null!, connector: null!, new TcpProxyMetrics(null), time, log.CreateLogger("epoll"));
        using var loop = new EpollLoop(transport, index: 7);

        // Below the threshold: nothing.
        await loop.InvokeAsync(() => time.Advance(EpollLoop.SlowTurn - TimeSpan.FromMilliseconds(1)));
        await loop.InvokeAsync(() => { });
        Assert.Empty(SlowTurns(log));

        // The first slow turn is reported with its length.
        await loop.InvokeAsync(() => time.Advance(TimeSpan.FromSeconds(1)));
        await loop.InvokeAsync(() => { });
        string first = Assert.Single(SlowTurns(log));
        Assert.StartsWith("Event loop 7 spent 1000 ms in one turn", first, StringComparison.Ordinal);
        Assert.EndsWith("since the last report: 0.", first, StringComparison.Ordinal);

        // Two more within the report period: counted, not logged.
        await loop.InvokeAsync(() => time.Advance(TimeSpan.FromSeconds(1)));
        await loop.InvokeAsync(() => time.Advance(TimeSpan.FromSeconds(1)));
        await loop.InvokeAsync(() => { });
        Assert.Single(SlowTurns(log));

        // After the period (fast turns meanwhile: the clock moved outside the loop), the next one is logged with them.
        time.Advance(EpollLoop.SlowTurnReportPeriod);
        await loop.InvokeAsync(() => time.Advance(TimeSpan.FromMilliseconds(250)));
        await loop.InvokeAsync(() => { });
        Assert.Equal(2, SlowTurns(log).Count);
        string second = SlowTurns(log)[1];
        Assert.StartsWith("Event loop 7 spent 250 ms in one turn", second, StringComparison.Ordinal);
        Assert.EndsWith("since the last report: 2.", second, StringComparison.Ordinal);
    }

    private static List<string> SlowTurns(ListLoggerProvider log) =>
        [.. log.Entries.Where(e => e.EventId.Id == SlowTurnEvent).Select(e => e.Message)];
}
