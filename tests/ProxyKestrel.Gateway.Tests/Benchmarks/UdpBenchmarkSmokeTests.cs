using System.Globalization;
using ProxyKestrel.Gateway.Tests.Infrastructure;

namespace ProxyKestrel.Gateway.Tests.Benchmarks;

/// <summary>
/// The UDP benchmark harness (eng/bench/udp/run.sh: DNS over UDP through the gateway's UDP route vs dnsdist with
/// <c>useProxyProtocol=true</c>, both in front of one unbound, dnsperf as the load) still works end to end: its smoke
/// (1 round of 1 s steps and 10,000 client ports through each proxy, about 40 s once built) exits 0 after checking
/// that both proxies pass the client on in a PROXY v2 header, and reports a number for every figure of every path and
/// the ratio where both proxies have one. No thresholds: the numbers are not judged here.
/// </summary>
[Collection(TimingSensitive.Name)]
public sealed class UdpBenchmarkSmokeTests
{
    private static readonly TimeSpan RunTimeout = TimeSpan.FromMinutes(15);

    private static readonly string[] AllPaths = ["direct", "dnsdist", "gateway", "gateway/dnsdist"];

    private static readonly string[] Proxies = ["dnsdist", "gateway", "gateway/dnsdist"];

    /// <summary>
    /// Every figure of the report (first column): the columns that must hold a number, and whether its row has a target
    /// ("met" yes or no). dnsdist keeps no per-client state, so its memory per session may be 0 and the ratio "–".
    /// </summary>
    private static readonly Dictionary<string, (string[] Columns, bool HasTarget)> ExpectedFigures = new(StringComparer.Ordinal)
    {
        ["max rate (dnsperf -c32 -q256) (qps)"] = (AllPaths, true),
        ["p99 latency at 10,000 qps (dnsperf -Q10000 -c32) (ms)"] = (AllPaths, true),
        ["average latency at the max rate (ms)"] = (AllPaths, false),
        ["average latency at 10,000 qps (ms)"] = (AllPaths, false),
        ["achieved rate at 10,000 qps (qps)"] = (AllPaths, false),
        ["proxy CPU per 1,000 datagrams, max rate (CPU-ms)"] = (Proxies, false),
        ["proxy CPU per 1,000 datagrams at 10,000 qps (CPU-ms)"] = (Proxies, false),
        ["memory per session, 10,000 client ports (RSS KiB)"] = (["dnsdist", "gateway"], false),
    };

    /// <summary>Runs the smoke and checks its report, figure by figure.</summary>
    [Fact]
    public async Task RunSh_Smoke_ReportsEveryFigure()
    {
        string report = Path.Combine(RepoPaths.Root, "artifacts", "bench", "udp-smoke.md");
        DateTime startedUtc = DateTime.UtcNow;

        // Measurements on this machine take turns (the lock every benchmark run holds); without flock, run directly.
        // The fixed rate is the script's default: the figures' names above depend on it.
        string script = Path.Combine("eng", "bench", "udp", "run.sh");
        string? flock = ChildProcess.FindExecutable("flock");
        string[] command = ["env", "-u", "UDP_BENCH_RATE", "bash", script, "--smoke"];
        string[] arguments = flock is null ? command[1..] : ["-E", "75", "-w", "600", "/tmp/proxykestrel-bench.lock", .. command];
        int exitCode;
        string output;
        await using (ChildProcess run = ChildProcess.Start(flock ?? "env", arguments, RepoPaths.Root, name: "udp run.sh", maxCapturedChars: 256 * 1024))
        {
            try
            {
                exitCode = await run.WaitForExitAsync(RunTimeout);
            }
            catch (OperationCanceledException)
            {
                Assert.Fail($"eng/bench/udp/run.sh --smoke did not finish within {RunTimeout}:\n{run.Output}");
                return;
            }

            output = run.Output;
        }

        Assert.True(exitCode != 75, "the benchmark lock /tmp/proxykestrel-bench.lock stayed busy for 10 minutes");
        Assert.True(exitCode == 0, $"eng/bench/udp/run.sh --smoke exited with {exitCode}:\n{output}");
        Assert.True(File.Exists(report), $"{report} was not written:\n{output}");
        Assert.True(File.GetLastWriteTimeUtc(report) >= startedUtc.AddSeconds(-1), $"{report} is older than this run:\n{output}");

        string markdown = await File.ReadAllTextAsync(report);
        Dictionary<string, Dictionary<string, string>> figures = ParseTables(markdown);
        foreach ((string figure, (string[] columns, bool hasTarget)) in ExpectedFigures)
        {
            Assert.True(figures.TryGetValue(figure, out Dictionary<string, string>? values), $"figure '{figure}' missing:\n{markdown}");
            foreach (string column in columns)
            {
                Assert.True(values.TryGetValue(column, out string? cell), $"figure '{figure}' has no column '{column}':\n{markdown}");
                Assert.True(IsNumber(cell), $"figure '{figure}', column '{column}': '{cell}' is not a number:\n{markdown}");
            }

            Assert.Equal(hasTarget, values.ContainsKey("met"));
            if (hasTarget)
            {
                Assert.True(values["met"] is "yes" or "no", $"figure '{figure}': met is '{values["met"]}':\n{markdown}");
            }
        }

        Assert.Equal(ExpectedFigures.Keys.Order(StringComparer.Ordinal), figures.Keys.Order(StringComparer.Ordinal));

        // Every one of the 10,000 client ports got its answer through each proxy (the memory figure is per session).
        Assert.Contains("- dnsdist: 10,000 sockets (10,000 distinct ports), 10,000 answered", markdown, StringComparison.Ordinal);
        Assert.Contains("- gateway: 10,000 sockets (10,000 distinct ports), 10,000 answered", markdown, StringComparison.Ordinal);

        // The smoke writes only under artifacts/: docs/ never gets a smoke report (a full run may legitimately rewrite
        // docs/ while this test waits for the lock, so the check is on content, not on modification).
        string docs = Path.Combine(RepoPaths.Root, "docs", "benchmarks.md");
        string docsText = File.Exists(docs) ? await File.ReadAllTextAsync(docs) : "";
        int begin = docsText.IndexOf("<!-- udp-bench:begin", StringComparison.Ordinal);
        int end = docsText.IndexOf("<!-- udp-bench:end -->", StringComparison.Ordinal);
        string docsSection = begin >= 0 && end > begin ? docsText[begin..end] : "";
        Assert.DoesNotContain("run.sh --smoke", docsSection, StringComparison.Ordinal);
    }

    /// <summary>Every Markdown table row whose header starts with "figure": figure (first cell) → column title → cell.</summary>
    private static Dictionary<string, Dictionary<string, string>> ParseTables(string markdown)
    {
        var figures = new Dictionary<string, Dictionary<string, string>>(StringComparer.Ordinal);
        string[]? header = null;
        foreach (string raw in markdown.Split('\n'))
        {
            string line = raw.Trim();
            if (!line.StartsWith('|'))
            {
                header = null;
                continue;
            }

            string[] cells = [.. line.Trim('|').Split('|').Select(c => c.Trim())];
            if (header is null)
            {
                header = cells;
                continue;
            }

            if (cells.All(c => c.Length > 0 && c.All(ch => ch is '-' or ':')))
            {
                continue;
            }

            if (cells.Length == header.Length && string.Equals(header[0], "figure", StringComparison.Ordinal))
            {
                figures[cells[0]] = header.Zip(cells).Skip(1).ToDictionary(p => p.First, p => p.Second, StringComparer.Ordinal);
            }
        }

        return figures;
    }

    /// <summary>True when <paramref name="text"/> is a finite number (thousands separators allowed).</summary>
    private static bool IsNumber(string text) =>
        double.TryParse(text, NumberStyles.Float | NumberStyles.AllowThousands, CultureInfo.InvariantCulture, out double value)
        && double.IsFinite(value);
}
