using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Text;
using System.Text.Json.Nodes;
using ProxyKestrel.Gateway.Tests.Infrastructure;
using ProxyKestrel.Gateway.Tests.Observability;
using Xunit.Abstractions;

namespace ProxyKestrel.Gateway.Tests.Reliability;

/// <summary>
/// Slowloris against a gateway TCP route with <c>AcceptProxyProtocol</c> (samples/Gateway as a child process):
/// connections that stop mid-header and connections that send nothing are each closed at HeaderTimeout (within 10 %,
/// measured per connection from its last byte sent to the close), while a well-behaved client (real PROXY header,
/// relayed to a backend that checks the client address) keeps its p99 within 2× its baseline from the same run; the
/// gateway's RSS per stalled connection is reported and its descriptors come back.
/// </summary>
[Trait("Category", "Reliability")]
[Collection(TimingSensitive.Name)]
public class SlowlorisTests(ITestOutputHelper output)
{
    private const string Command =
        "PROXYKESTREL_RELIABILITY=full dotnet test tests/ProxyKestrel.Gateway.Tests -c Release --filter \"Category=Reliability&FullyQualifiedName~SlowlorisTests\"";

    private static readonly byte[] WellBehavedRequest = Encoding.ASCII.GetBytes("PROXY TCP4 203.0.113.7 198.51.100.1 40000 25\r\nping\n");

    [Fact]
    public async Task Slowloris_StalledHeadersAgainstAcceptProxyProtocolRoute_ClosedAtHeaderTimeoutWhileWellBehavedClientKeepsItsLatency()
    {
        int partial = ReliabilityScale.Pick(100, 5_000);
        int silent = ReliabilityScale.Pick(100, 5_000);
        // Full scale: 10 s so that all 10,000 are held at once (opening them takes a few seconds) for the RSS figure.
        TimeSpan headerTimeout = ReliabilityScale.Pick(TimeSpan.FromSeconds(3), TimeSpan.FromSeconds(10));
        TimeSpan baselineFor = ReliabilityScale.Pick(TimeSpan.FromSeconds(2), TimeSpan.FromSeconds(4));

        using var backend = new SlowlorisBackend();
        JsonObject config = ObservedGateway.Config(backend.Port, new JsonObject
        {
            ["slow"] = new JsonObject
            {
                ["Listen"] = "127.0.0.1:0",
                ["ClusterId"] = "backend",
                ["AcceptProxyProtocol"] = new JsonObject { ["HeaderTimeout"] = headerTimeout.ToString("c", CultureInfo.InvariantCulture) },
            },
        });
        config["ReverseProxy"]!["Clusters"]!["backend"]!["Metadata"] = new JsonObject { ["ProxyProtocol"] = "v1" };
        await using ObservedGateway gateway = await ObservedGateway.StartAsync(config, "slow");
        int pid = gateway.ProcessId;
        var server = new IPEndPoint(IPAddress.Loopback, gateway.RoutePorts["slow"]);

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
        (_, string holding) = await gateway.GetAdminAsync("/metrics");
        double activeHolding = SumSeries(holding, "proxykestrel_tcp_active_connections{", "proxykestrel_route=\"slow\"");

        await attack.WaitAllClosedAsync(headerTimeout * 1.1 + TimeSpan.FromSeconds(openSeconds + 5));
        long attackTo = Math.Max(attack.LastClosed, attack.Opened);
        probe.Stop();
        (double[] baseline, int baselineFailed) = probe.Between(baselineFrom, baselineTo);
        (double[] underAttack, int attackFailed) = probe.Between(attack.Started, attackTo);
        int fdAfter = await SlowlorisProcfs.WaitFdsAtMostAsync(pid, fdBefore + 5);
        int total = partial + silent;
        string metrics = await gateway.ScrapeUntilAsync(text =>
            SumSeries(text, "proxykestrel_tcp_connection_duration_seconds_count{", "proxykestrel_result=\"header_timeout\"") >= total);
        double timeouts = SumSeries(metrics, "proxykestrel_tcp_connection_duration_seconds_count{", "proxykestrel_result=\"header_timeout\"");

        double[] closes = attack.CloseSeconds();
        double low = headerTimeout.TotalSeconds * 0.9, high = headerTimeout.TotalSeconds * 1.1;
        int outside = closes.Count(s => s < low || s > high);
        double p99Base = SlowlorisProbe.Percentile(baseline, 0.99), p99Attack = SlowlorisProbe.Percentile(underAttack, 0.99);
        double rssPerConnection = (rssHolding - rssBefore) / (double)total;
        string details = string.Create(CultureInfo.InvariantCulture,
            $"{partial} mid-header + {silent} silent held (opened in {openSeconds:F1} s, gateway active connections {activeHolding}); HeaderTimeout {headerTimeout.TotalSeconds:F0} s; " +
            $"closed after min/median/max {Min(closes):F3}/{Median(closes):F3}/{Max(closes):F3} s (mid-header median {Median(attack.CloseSeconds(true)):F3}, silent {Median(attack.CloseSeconds(false)):F3}), {outside} outside ±10 %, {attack.StillOpen} never closed, {attack.Resets} resets, {attack.BytesReceived} bytes written to them; " +
            $"gateway counted {timeouts} header timeouts; well-behaved p99 {p99Base:F2} ms baseline ({baseline.Length} req) vs {p99Attack:F2} ms under attack ({underAttack.Length} req, {attackFailed + baselineFailed} failed); " +
            $"RSS {rssBefore} -> {rssHolding} KB = {rssPerConnection:F1} KB per stalled connection; non-file fds {fdBefore} -> {fdHolding} holding -> {fdAfter} after");
        if (fdAfter > fdBefore + 5)
        {
            details += $" (before: {fdKindsBefore}; after: {SlowlorisProcfs.FdKinds(pid)})";
        }

        output.WriteLine(details);

        bool passed = attack.ConnectFailures == 0 && attack.StillOpen == 0 && outside == 0 && attack.BytesReceived == 0
            && closes.Length == total && timeouts == total && activeHolding >= total && backend.Unexpected == 0
            && baselineFailed == 0 && attackFailed == 0 && baseline.Length >= 20 && underAttack.Length >= 20 && p99Attack <= 2 * p99Base
            && fdAfter <= fdBefore + 5;
        ReliabilityResults.Append("hostile", "slowloris-gateway",
            "Slowloris against a gateway TCP route with AcceptProxyProtocol: mid-header and silent connections closed at HeaderTimeout",
            inputs: null, connections: total, bytesVerified: null, faults: null,
            lost: attack.ConnectFailures + attackFailed + baselineFailed, corrupted: 0, spoofed: backend.Unexpected, details, Command, passed);

        Assert.Equal(0, attack.ConnectFailures);
        Assert.True(activeHolding >= total, $"the gateway held {activeHolding} connections, not all {total}: {details}");
        Assert.Equal(0, attack.StillOpen);
        Assert.Equal(0L, attack.BytesReceived);
        Assert.True(outside == 0, $"{outside} closes outside [{low:F2}, {high:F2}] s: {details}");
        Assert.Equal(total, (int)timeouts);
        Assert.Equal(0, backend.Unexpected);
        Assert.Equal(0, baselineFailed + attackFailed);
        Assert.True(baseline.Length >= 20 && underAttack.Length >= 20, details);
        Assert.True(p99Attack <= 2 * p99Base, $"well-behaved p99 under attack {p99Attack:F2} ms > 2 × {p99Base:F2} ms: {details}");
        Assert.True(fdAfter <= fdBefore + 5, $"descriptors {fdBefore} before, {fdAfter} after: {details}");
    }

    private static bool WellBehaved(Socket socket)
    {
        socket.Send(WellBehavedRequest);
        return Encoding.ASCII.GetString(SlowlorisProbe.ReadToEnd(socket)) == "pong 203.0.113.7\n";
    }

    internal static double SumSeries(string text, string prefix, string label) =>
        text.Split('\n')
            .Where(l => l.StartsWith(prefix, StringComparison.Ordinal) && l.Contains(label, StringComparison.Ordinal))
            .Sum(l => double.Parse(l[(l.LastIndexOf('}') + 1)..].Trim().Split(' ')[0], CultureInfo.InvariantCulture));

    private static double Min(double[] sorted) => sorted.Length == 0 ? double.NaN : sorted[0];

    private static double Max(double[] sorted) => sorted.Length == 0 ? double.NaN : sorted[^1];

    private static double Median(double[] sorted) => sorted.Length == 0 ? double.NaN : sorted[sorted.Length / 2];
}

/// <summary>
/// The well-behaved client's backend, on a dedicated thread: reads the gateway's v1 header and "ping\n", answers
/// "pong {client address from the header}\n" and closes. Anything else (a stalled client reaching it) counts as unexpected.
/// </summary>
internal sealed class SlowlorisBackend : IDisposable
{
    private readonly TcpListener _listener = new(IPAddress.Loopback, 0);
    private readonly Thread _thread;
    private int _unexpected;

    public SlowlorisBackend()
    {
        _listener.Start(512);
        _thread = new Thread(Run) { IsBackground = true, Name = "slowloris-backend" };
        _thread.Start();
    }

    public int Port => ((IPEndPoint)_listener.LocalEndpoint).Port;

    /// <summary>Connections that did not bring a v1 header from 203.0.113.7 and "ping".</summary>
    public int Unexpected => Volatile.Read(ref _unexpected);

    public void Dispose()
    {
        _listener.Stop();
        _thread.Join(TimeSpan.FromSeconds(10));
    }

    private void Run()
    {
        byte[] buffer = new byte[1024];
        for (int i = 0; i < 10_000_000; i++)
        {
            Socket socket;
            try
            {
                socket = _listener.AcceptSocket();
            }
            catch (Exception e) when (e is SocketException or ObjectDisposedException or InvalidOperationException)
            {
                return;
            }

            using (socket)
            {
                try
                {
                    socket.ReceiveTimeout = 5000;
                    socket.NoDelay = true;
                    int filled = 0;
                    while (filled < buffer.Length && !EndsWithPing(buffer, filled))
                    {
                        int read = socket.Receive(buffer, filled, buffer.Length - filled, SocketFlags.None);
                        if (read == 0)
                        {
                            break;
                        }

                        filled += read;
                    }

                    string text = Encoding.ASCII.GetString(buffer, 0, filled);
                    string[] header = text.Split("\r\n")[0].Split(' ');
                    if (header.Length == 6 && header[0] == "PROXY" && header[2] == "203.0.113.7" && text.EndsWith("\r\nping\n", StringComparison.Ordinal))
                    {
                        socket.Send(Encoding.ASCII.GetBytes($"pong {header[2]}\n"));
                    }
                    else
                    {
                        Interlocked.Increment(ref _unexpected);
                    }

                    socket.Shutdown(SocketShutdown.Both);
                }
                catch (SocketException)
                {
                    Interlocked.Increment(ref _unexpected);
                }
            }
        }
    }

    private static bool EndsWithPing(byte[] buffer, int filled) =>
        filled >= 5 && buffer.AsSpan(filled - 5, 5).SequenceEqual("ping\n"u8);
}
