using System.Globalization;
using ProxyKestrel.Gateway.Tests.Infrastructure;

namespace ProxyKestrel.Gateway.Tests.Benchmarks;

/// <summary>
/// The routing benchmark harness (eng/bench/routing/run.sh: SNI and Host routes, gateway vs HAProxy) still works end
/// to end: its smoke (1 round of 1 s steps, about 20 s once built) exits 0 after checking every route of both proxies
/// with curl, and reports a number for every figure of both proxies and their ratio. No thresholds: the numbers are
/// not judged here.
/// </summary>
[Collection(TimingSensitive.Name)]
public sealed class RoutingBenchmarkSmokeTests
{
    private static readonly TimeSpan RunTimeout = TimeSpan.FromMinutes(15);

    /// <summary>The columns every figure must have a number in.</summary>
    private static readonly string[] Columns = ["HAProxy", "gateway", "gateway/HAProxy"];

    /// <summary>Every figure of the report (first column) and whether its row has a target ("met" yes or no).</summary>
    private static readonly Dictionary<string, bool> ExpectedFigures = new(StringComparer.Ordinal)
    {
        ["SNI: new TLS connections (wrk -t2 -c32, Connection: close, https) (conn/s)"] = true,
        ["SNI: p99 latency, new TLS connections (ms)"] = true,
        ["Host: keep-alive requests (wrk -t2 -c32) (req/s)"] = true,
        ["Host: p99 latency, keep-alive (ms)"] = true,
        ["Host: new connections (wrk -t2 -c32, Connection: close) (conn/s)"] = true,
        ["Host: p99 latency, new connections (ms)"] = true,
        ["proxy CPU per 1,000 requests, SNI, new TLS connections (CPU-s)"] = false,
        ["proxy CPU per 1,000 requests, Host, keep-alive (CPU-s)"] = false,
        ["proxy CPU per 1,000 requests, Host, new connections (CPU-s)"] = false,
    };

    /// <summary>Runs the smoke and checks its report, figure by figure.</summary>
    [Fact]
    public async Task RunSh_Smoke_ReportsEveryFigure()
    {
        string report = Path.Combine(RepoPaths.Root, "artifacts", "bench", "routing-smoke.md");
        DateTime startedUtc = DateTime.UtcNow;

        // Measurements on this machine take turns (the lock every benchmark run holds); without flock, run directly.
        string script = Path.Combine("eng", "bench", "routing", "run.sh");
        string? flock = ChildProcess.FindExecutable("flock");
        string[] arguments = flock is null
            ? [script, "--smoke"]
            : ["-E", "75", "-w", "600", "/tmp/proxykestrel-bench.lock", "bash", script, "--smoke"];
        int exitCode;
        string output;
        await using (ChildProcess run = ChildProcess.Start(flock ?? "bash", arguments, RepoPaths.Root, name: "routing run.sh", maxCapturedChars: 256 * 1024))
        {
            try
            {
                exitCode = await run.WaitForExitAsync(RunTimeout);
            }
            catch (OperationCanceledException)
            {
                Assert.Fail($"eng/bench/routing/run.sh --smoke did not finish within {RunTimeout}:\n{run.Output}");
                return;
            }

            output = run.Output;
        }

        Assert.True(exitCode != 75, "the benchmark lock /tmp/proxykestrel-bench.lock stayed busy for 10 minutes");
        Assert.True(exitCode == 0, $"eng/bench/routing/run.sh --smoke exited with {exitCode}:\n{output}");
        Assert.True(File.Exists(report), $"{report} was not written:\n{output}");
        Assert.True(File.GetLastWriteTimeUtc(report) >= startedUtc.AddSeconds(-1), $"{report} is older than this run:\n{output}");

        string markdown = await File.ReadAllTextAsync(report);
        Dictionary<string, Dictionary<string, string>> figures = ParseTables(markdown);
        foreach ((string figure, bool hasTarget) in ExpectedFigures)
        {
            Assert.True(figures.TryGetValue(figure, out Dictionary<string, string>? values), $"figure '{figure}' missing:\n{markdown}");
            foreach (string column in Columns)
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

        // The smoke writes only under artifacts/: docs/ never gets a smoke report (a full run may legitimately rewrite
        // docs/ while this test waits for the lock, so the check is on content, not on modification).
        string docs = Path.Combine(RepoPaths.Root, "docs", "benchmarks.md");
        string docsText = File.Exists(docs) ? await File.ReadAllTextAsync(docs) : "";
        int begin = docsText.IndexOf("<!-- routing-bench:begin", StringComparison.Ordinal);
        int end = docsText.IndexOf("<!-- routing-bench:end -->", StringComparison.Ordinal);
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
