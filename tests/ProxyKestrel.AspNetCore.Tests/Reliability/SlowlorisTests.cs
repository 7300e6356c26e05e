using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Text;
using Xunit.Abstractions;

namespace ProxyKestrel.AspNetCore.Tests.Reliability;

/// <summary>Reliability tests that hold thousands of sockets or measure time run alone.</summary>
[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class SlowlorisSerial
{
    public const string Name = "Serial (slowloris, reliability)";
}

/// <summary>
/// Slowloris against the middleware (samples/WebApp as a child process): connections that stop mid-header and
/// connections that send nothing are each closed at HeaderTimeout (within 10 %, measured per connection from its
/// last byte sent to the close), while a well-behaved client keeps getting answers with p99 no worse than 2× its
/// baseline from the same run; the server's RSS per stalled connection is reported, its descriptors come back.
/// </summary>
[Trait("Category", "Reliability")]
[Collection(SlowlorisSerial.Name)]
public class SlowlorisTests(ITestOutputHelper output)
{
    private const string Command =
        "PROXYKESTREL_RELIABILITY=full dotnet test tests/ProxyKestrel.AspNetCore.Tests -c Release --filter \"Category=Reliability&FullyQualifiedName~SlowlorisTests\"";

    private static readonly byte[] WellBehavedRequest = Encoding.ASCII.GetBytes(
        "PROXY TCP4 203.0.113.7 192.0.2.1 51234 443\r\nGET / HTTP/1.1\r\nHost: test\r\nConnection: close\r\n\r\n");

    [Fact]
    public async Task Slowloris_StalledHeadersAgainstWebApp_ClosedAtHeaderTimeoutWhileWellBehavedClientKeepsItsLatency()
    {
        int partial = ReliabilityScale.Pick(100, 5_000);
        int silent = ReliabilityScale.Pick(100, 5_000);
        // Full scale: 10 s so that all 10,000 are held at once (opening them takes a few seconds) for the RSS figure.
        TimeSpan headerTimeout = ReliabilityScale.Pick(TimeSpan.FromSeconds(3), TimeSpan.FromSeconds(10));
        TimeSpan baselineFor = ReliabilityScale.Pick(TimeSpan.FromSeconds(2), TimeSpan.FromSeconds(4));
        string marker = "--Slowloris:Run=" + Guid.NewGuid().ToString("N");

        await using WebAppProcess app = await WebAppProcess.StartAsync(
        [
            "--ProxyProtocol:HeaderTimeout=" + headerTimeout.ToString("c", CultureInfo.InvariantCulture),
            "--Logging:LogLevel:Default=Warning",
            "--Logging:LogLevel:ProxyKestrel=Warning",
            "--Logging:LogLevel:Microsoft.Hosting.Lifetime=Information",
            marker,
        ]);
        int pid = SlowlorisProcfs.FindProcess(marker);
        var server = new IPEndPoint(IPAddress.Loopback, app.Port);

        // Warm-up (JIT, pools), then the baseline of the well-behaved client alone.
        using var probe = new SlowlorisProbe(server, WellBehaved, TimeSpan.FromMinutes(3));
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
        double activeHolding = SumSeries(await ScrapeAsync(app.Port), "kestrel_active_connections{", "");

        await attack.WaitAllClosedAsync(headerTimeout * 1.1 + TimeSpan.FromSeconds(openSeconds + 5));
        long attackTo = Math.Max(attack.LastClosed, attack.Opened);
        probe.Stop();
        (double[] baseline, int baselineFailed) = probe.Between(baselineFrom, baselineTo);
        (double[] underAttack, int attackFailed) = probe.Between(attack.Started, attackTo);
        int fdAfter = await SlowlorisProcfs.WaitFdsAtMostAsync(pid, fdBefore + 5);
        string metrics = await ScrapeAsync(app.Port);
        double timeouts = SumSeries(metrics, "proxykestrel_proxy_protocol_connections_total{", "error_type=\"timeout\"");

        int total = partial + silent;
        double[] closes = attack.CloseSeconds();
        double low = headerTimeout.TotalSeconds * 0.9, high = headerTimeout.TotalSeconds * 1.1;
        int outside = closes.Count(s => s < low || s > high);
        double p99Base = SlowlorisProbe.Percentile(baseline, 0.99), p99Attack = SlowlorisProbe.Percentile(underAttack, 0.99);
        double rssPerConnection = (rssHolding - rssBefore) / (double)total;
        string details = string.Create(CultureInfo.InvariantCulture,
            $"{partial} mid-header + {silent} silent held (opened in {openSeconds:F1} s, server active connections {activeHolding}); HeaderTimeout {headerTimeout.TotalSeconds:F0} s; " +
            $"closed after min/median/max {Min(closes):F3}/{Median(closes):F3}/{Max(closes):F3} s (mid-header median {Median(attack.CloseSeconds(true)):F3}, silent {Median(attack.CloseSeconds(false)):F3}), {outside} outside ±10 %, {attack.StillOpen} never closed, {attack.Resets} resets, {attack.BytesReceived} bytes written to them; " +
            $"server counted {timeouts} timeouts; well-behaved p99 {p99Base:F2} ms baseline ({baseline.Length} req) vs {p99Attack:F2} ms under attack ({underAttack.Length} req, {attackFailed + baselineFailed} failed); " +
            $"RSS {rssBefore} -> {rssHolding} KB = {rssPerConnection:F1} KB per stalled connection; non-file fds {fdBefore} -> {fdHolding} holding -> {fdAfter} after");
        if (fdAfter > fdBefore + 5)
        {
            details += $" (before: {fdKindsBefore}; after: {SlowlorisProcfs.FdKinds(pid)})";
        }

        output.WriteLine(details);

        bool passed = attack.ConnectFailures == 0 && attack.StillOpen == 0 && outside == 0 && attack.BytesReceived == 0
            && closes.Length == total && timeouts == total && activeHolding >= total
            && baselineFailed == 0 && attackFailed == 0 && baseline.Length >= 20 && underAttack.Length >= 20 && p99Attack <= 2 * p99Base
            && fdAfter <= fdBefore + 5;
        ReliabilityResults.Append("hostile", "slowloris-webapp",
            "Slowloris against the middleware (samples/WebApp): mid-header and silent connections closed at HeaderTimeout",
            inputs: null, connections: total, bytesVerified: null, faults: null,
            lost: attack.ConnectFailures + attackFailed + baselineFailed, corrupted: 0, spoofed: null, details, Command, passed);

        Assert.Equal(0, attack.ConnectFailures);
        Assert.True(activeHolding >= total, $"the server held {activeHolding} connections, not all {total}: {details}");
        Assert.Equal(0, attack.StillOpen);
        Assert.Equal(0L, attack.BytesReceived);
        Assert.True(outside == 0, $"{outside} closes outside [{low:F2}, {high:F2}] s: {details}");
        Assert.Equal(total, (int)timeouts);
        Assert.Equal(0, baselineFailed + attackFailed);
        Assert.True(baseline.Length >= 20 && underAttack.Length >= 20, details);
        Assert.True(p99Attack <= 2 * p99Base, $"well-behaved p99 under attack {p99Attack:F2} ms > 2 × {p99Base:F2} ms: {details}");
        Assert.True(fdAfter <= fdBefore + 5, $"descriptors {fdBefore} before, {fdAfter} after: {details}");
    }

    private static bool WellBehaved(Socket socket)
    {
        socket.Send(WellBehavedRequest);
        string response = Encoding.ASCII.GetString(SlowlorisProbe.ReadToEnd(socket));
        return response.StartsWith("HTTP/1.1 200", StringComparison.Ordinal)
            && response.Contains("\"remoteIp\":\"203.0.113.7\"", StringComparison.Ordinal);
    }

    /// <summary>GET /metrics through a connection that starts with a PROXY header (the middleware guards every endpoint).</summary>
    private static async Task<string> ScrapeAsync(int port)
    {
        using var handler = new SocketsHttpHandler
        {
            ConnectCallback = async (context, cancel) =>
            {
                var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
                try
                {
                    await socket.ConnectAsync(new IPEndPoint(IPAddress.Loopback, port), cancel);
                    await socket.SendAsync("PROXY TCP4 203.0.113.8 192.0.2.1 51235 443\r\n"u8.ToArray(), SocketFlags.None, cancel);
                    return new NetworkStream(socket, ownsSocket: true);
                }
                catch
                {
                    socket.Dispose();
                    throw;
                }
            },
        };
        using var client = new HttpClient(handler) { Timeout = TimeSpan.FromSeconds(20) };
        return await client.GetStringAsync(new Uri($"http://127.0.0.1:{port}/metrics"));
    }

    /// <summary>The sum of the series whose line starts with <paramref name="prefix"/> and contains <paramref name="label"/>.</summary>
    private static double SumSeries(string text, string prefix, string label) =>
        text.Split('\n')
            .Where(l => l.StartsWith(prefix, StringComparison.Ordinal) && l.Contains(label, StringComparison.Ordinal))
            .Sum(l => double.Parse(l[(l.LastIndexOf('}') + 1)..].Trim().Split(' ')[0], CultureInfo.InvariantCulture));

    private static double Min(double[] sorted) => sorted.Length == 0 ? double.NaN : sorted[0];

    private static double Max(double[] sorted) => sorted.Length == 0 ? double.NaN : sorted[^1];

    private static double Median(double[] sorted) => sorted.Length == 0 ? double.NaN : sorted[sorted.Length / 2];
}
