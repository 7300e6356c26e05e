using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Sockets;

namespace ProxyKestrel.Testing;

/// <summary>
/// The slowloris scenario shared by the middleware and gateway tests: a baseline of the well-behaved client alone, then
/// <see cref="SlowlorisAttack"/> held open until the server closes it at HeaderTimeout, with the server's RSS, descriptors
/// and own counters read before, while holding and after. <see cref="Assert"/> checks the figures.
/// </summary>
internal sealed class SlowlorisScenario
{
    private SlowlorisScenario()
    {
    }

    public int Total { get; private init; }

    public string Details { get; private set; } = "";

    /// <summary>Whether every figure is within bounds (the test may add its own conditions).</summary>
    public bool Passed { get; private init; }

    /// <summary>Connections that failed to open, and well-behaved requests that failed.</summary>
    public int Lost { get; private init; }

    private int ConnectFailures { get; init; }

    private double ActiveHolding { get; init; }

    private int StillOpen { get; init; }

    private long BytesReceived { get; init; }

    private int Outside { get; init; }

    private double Low { get; init; }

    private double High { get; init; }

    private double Timeouts { get; init; }

    private int ProbeFailed { get; init; }

    private int BaselineCount { get; init; }

    private int UnderAttackCount { get; init; }

    private double P99Base { get; init; }

    private double P99Attack { get; init; }

    private int FdBefore { get; init; }

    private int FdAfter { get; init; }

    /// <param name="pid">The server process.</param>
    /// <param name="server">Where the server expects a PROXY header.</param>
    /// <param name="wellBehaved">The well-behaved client's exchange (see <see cref="SlowlorisProbe"/>).</param>
    /// <param name="activeConnections">The server's count of its active connections (read while the attack is held).</param>
    /// <param name="countedTimeouts">The server's count of header timeouts, given the number expected (read after).</param>
    /// <param name="who">How the details name the server ("server", "gateway").</param>
    /// <param name="timeoutsName">How the details name the counted timeouts.</param>
    public static async Task<SlowlorisScenario> RunAsync(
        int pid, IPEndPoint server, Func<Socket, bool> wellBehaved, int partial, int silent, TimeSpan headerTimeout, TimeSpan baselineFor,
        Func<Task<double>> activeConnections, Func<int, Task<double>> countedTimeouts, string who, string timeoutsName)
    {
        using var probe = new SlowlorisProbe(server, wellBehaved, TimeSpan.FromMinutes(3));

        // Warm-up (JIT, pools), then the baseline of the well-behaved client alone.
        probe.Start();
        await Task.Delay(TimeSpan.FromSeconds(1));
        long baselineFrom = Stopwatch.GetTimestamp();
        await Task.Delay(baselineFor);
        long baselineTo = Stopwatch.GetTimestamp();
        long rssBefore = SlowlorisProcfs.RssKb(pid);
        int fdBefore = SlowlorisProcfs.FdCount(pid);
        string fdKindsBefore = SlowlorisProcfs.FdKinds(pid);

        using SlowlorisAttack attack = await SlowlorisAttack.OpenAsync(
            server, partial, silent, sources: ReliabilityScale.Pick(4, 20), concurrency: 64, budget: TimeSpan.FromSeconds(60));
        double openSeconds = Stopwatch.GetElapsedTime(attack.Started, attack.Opened).TotalSeconds;
        long rssHolding = SlowlorisProcfs.RssKb(pid);
        int fdHolding = SlowlorisProcfs.FdCount(pid);
        double activeHolding = await activeConnections();

        await attack.WaitAllClosedAsync(headerTimeout * 1.1 + TimeSpan.FromSeconds(openSeconds + 5));
        long attackTo = Math.Max(attack.LastClosed, attack.Opened);
        probe.Stop();
        (double[] baseline, int baselineFailed) = probe.Between(baselineFrom, baselineTo);
        (double[] underAttack, int attackFailed) = probe.Between(attack.Started, attackTo);
        int fdAfter = await SlowlorisProcfs.WaitFdsAtMostAsync(pid, fdBefore + 5);
        int total = partial + silent;
        double timeouts = await countedTimeouts(total);

        double[] closes = attack.CloseSeconds();
        double low = headerTimeout.TotalSeconds * 0.9, high = headerTimeout.TotalSeconds * 1.1;
        int outside = closes.Count(s => s < low || s > high);
        double p99Base = SlowlorisProbe.Percentile(baseline, 0.99), p99Attack = SlowlorisProbe.Percentile(underAttack, 0.99);
        double rssPerConnection = (rssHolding - rssBefore) / (double)total;
        string details = string.Create(CultureInfo.InvariantCulture,
            $"{partial} mid-header + {silent} silent held (opened in {openSeconds:F1} s, {who} active connections {activeHolding}); HeaderTimeout {headerTimeout.TotalSeconds:F0} s; " +
            $"closed after min/median/max {Range(closes)} s (mid-header {Range(attack.CloseSeconds(true))}, silent {Range(attack.CloseSeconds(false))}), {outside} outside ±10 %, {attack.StillOpen} never closed, {attack.Resets} resets, {attack.BytesReceived} bytes written to them; " +
            $"{who} counted {timeouts} {timeoutsName}; well-behaved p99 {p99Base:F2} ms baseline ({baseline.Length} req) vs {p99Attack:F2} ms under attack ({underAttack.Length} req, {attackFailed + baselineFailed} failed); " +
            $"RSS {rssBefore} -> {rssHolding} KB = {rssPerConnection:F1} KB per stalled connection; non-file fds {fdBefore} -> {fdHolding} holding -> {fdAfter} after");
        if (fdAfter > fdBefore + 5)
        {
            details += $" (before: {fdKindsBefore}; after: {SlowlorisProcfs.FdKinds(pid)})";
        }

        bool passed = attack.ConnectFailures == 0 && attack.StillOpen == 0 && outside == 0 && attack.BytesReceived == 0
            && closes.Length == total && timeouts == total && activeHolding >= total
            && baselineFailed == 0 && attackFailed == 0 && baseline.Length >= 20 && underAttack.Length >= 20 && p99Attack <= LatencyBound(p99Base)
            && fdAfter <= fdBefore + 5;
        return new SlowlorisScenario
        {
            Total = total,
            Details = details,
            Passed = passed,
            Lost = attack.ConnectFailures + attackFailed + baselineFailed,
            ConnectFailures = attack.ConnectFailures,
            ActiveHolding = activeHolding,
            StillOpen = attack.StillOpen,
            BytesReceived = attack.BytesReceived,
            Outside = outside,
            Low = low,
            High = high,
            Timeouts = timeouts,
            ProbeFailed = baselineFailed + attackFailed,
            BaselineCount = baseline.Length,
            UnderAttackCount = underAttack.Length,
            P99Base = p99Base,
            P99Attack = p99Attack,
            FdBefore = fdBefore,
            FdAfter = fdAfter,
        };
    }

    /// <summary>"min/median/max" of sorted figures, in seconds.</summary>
    private static string Range(double[] sorted) =>
        string.Create(CultureInfo.InvariantCulture, $"{Min(sorted):F3}/{Median(sorted):F3}/{Max(sorted):F3}");

    /// <summary>The sum of the series whose line starts with <paramref name="prefix"/> and contains <paramref name="label"/>.</summary>
    public static double SumSeries(string text, string prefix, string label) =>
        text.Split('\n')
            .Where(l => l.StartsWith(prefix, StringComparison.Ordinal) && l.Contains(label, StringComparison.Ordinal))
            .Sum(l => double.Parse(l[(l.LastIndexOf('}') + 1)..].Trim().Split(' ')[0], CultureInfo.InvariantCulture));

    /// <summary>Asserts the figures; <paramref name="more"/> (the test's own) runs after the timeouts are checked.</summary>
    /// <param name="who">How the messages name the server.</param>
    public void Assert(string who, Action? more = null)
    {
        Xunit.Assert.Equal(0, ConnectFailures);
        Xunit.Assert.True(ActiveHolding >= Total, $"the {who} held {ActiveHolding} connections, not all {Total}: {Details}");
        Xunit.Assert.Equal(0, StillOpen);
        Xunit.Assert.Equal(0L, BytesReceived);
        Xunit.Assert.True(Outside == 0, $"{Outside} closes outside [{Low:F2}, {High:F2}] s: {Details}");
        Xunit.Assert.Equal(Total, (int)Timeouts);
        more?.Invoke();
        Xunit.Assert.Equal(0, ProbeFailed);
        Xunit.Assert.True(BaselineCount >= 20 && UnderAttackCount >= 20, Details);
        Xunit.Assert.True(P99Attack <= LatencyBound(P99Base), $"well-behaved p99 under attack {P99Attack:F2} ms > 2 × {P99Base:F2} ms + {SchedulerSlackMs} ms: {Details}");
        Xunit.Assert.True(FdAfter <= FdBefore + 5, $"descriptors {FdBefore} before, {FdAfter} after: {Details}");
    }

    /// <summary>
    /// Scheduling noise on the shared 2-vCPU machine: a p99 of about 1 ms moves by a few milliseconds between two runs
    /// without any attack (seen once in CI: 1.29 ms vs 3.98 ms), so the bound is twice the baseline plus this.
    /// </summary>
    private const double SchedulerSlackMs = 3;

    /// <summary>The most the well-behaved p99 may reach under attack.</summary>
    private static double LatencyBound(double p99Base) => (2 * p99Base) + SchedulerSlackMs;

    private static double Min(double[] sorted) => sorted.Length == 0 ? double.NaN : sorted[0];

    private static double Max(double[] sorted) => sorted.Length == 0 ? double.NaN : sorted[^1];

    private static double Median(double[] sorted) => sorted.Length == 0 ? double.NaN : sorted[sorted.Length / 2];
}
