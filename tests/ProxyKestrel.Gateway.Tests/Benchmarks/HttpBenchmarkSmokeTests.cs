using System.Globalization;
using ProxyKestrel.Gateway.Tests.Infrastructure;

namespace ProxyKestrel.Gateway.Tests.Benchmarks;

/// <summary>
/// The HTTP benchmark harness (eng/bench/http/run.sh) still works end to end: its smoke (1 round of 1 s steps) exits 0
/// and reports a number for every figure and every path. No thresholds: the numbers are not judged here.
/// </summary>
[Collection(TimingSensitive.Name)]
public sealed class HttpBenchmarkSmokeTests
{
    private static readonly TimeSpan RunTimeout = TimeSpan.FromMinutes(20);

    private static readonly string[] MiddlewarePaths = ["with middleware", "without"];
    private static readonly string[] HttpPaths = ["direct nginx", "HAProxy", "gateway"];
    private static readonly string[] CpuPaths = ["HAProxy", "gateway"];

    /// <summary>Every figure of the report and the paths (columns) it must have a number for.</summary>
    private static readonly Dictionary<string, string[]> ExpectedFigures = new()
    {
        ["middleware: keep-alive (wrk -t2 -c64) (req/s)"] = MiddlewarePaths,
        ["middleware: p99 latency, keep-alive (ms)"] = MiddlewarePaths,
        ["middleware: new connections (wrk -t2 -c32, Connection: close) (req/s)"] = MiddlewarePaths,
        ["middleware: p99 latency, new connections (ms)"] = MiddlewarePaths,
        ["app CPU per 1,000 requests, keep-alive (CPU-s)"] = MiddlewarePaths,
        ["app CPU per 1,000 requests, new connections (CPU-s)"] = MiddlewarePaths,
        ["HTTP route: keep-alive (wrk -t2 -c64) (req/s)"] = HttpPaths,
        ["HTTP route: p99 latency, keep-alive (ms)"] = HttpPaths,
        ["HTTP route: new connections (wrk -t2 -c32, Connection: close) (req/s)"] = HttpPaths,
        ["HTTP route: p99 latency, new connections (ms)"] = HttpPaths,
        ["proxy CPU per 1,000 requests, keep-alive (CPU-s)"] = CpuPaths,
        ["proxy CPU per 1,000 requests, new connections (CPU-s)"] = CpuPaths,
    };

    [Fact]
    public async Task RunSh_Smoke_ReportsEveryFigure()
    {
        string report = Path.Combine(RepoPaths.Root, "artifacts", "bench", "http-smoke.md");
        DateTime startedUtc = DateTime.UtcNow;

        // Measurements on this machine take turns (the lock every benchmark run holds); without flock, run directly.
        string script = Path.Combine("eng", "bench", "http", "run.sh");
        string? flock = ChildProcess.FindExecutable("flock");
        string executable = flock ?? "bash";
        string[] arguments = flock is null
            ? [script, "--smoke"]
            : ["-w", "900", "/tmp/proxykestrel-bench.lock", "bash", script, "--smoke"];
        int exitCode;
        string output;
        await using (ChildProcess run = ChildProcess.Start(executable, arguments, RepoPaths.Root, name: "http run.sh", maxCapturedChars: 256 * 1024))
        {
            try
            {
                exitCode = await run.WaitForExitAsync(RunTimeout);
            }
            catch (OperationCanceledException)
            {
                Assert.Fail($"eng/bench/http/run.sh --smoke did not finish within {RunTimeout}:\n{run.Output}");
                return;
            }

            output = run.Output;
        }

        Assert.True(exitCode == 0, $"eng/bench/http/run.sh --smoke exited with {exitCode}:\n{output}");
        Assert.True(File.Exists(report), $"{report} was not written:\n{output}");
        Assert.True(File.GetLastWriteTimeUtc(report) >= startedUtc.AddSeconds(-1), $"{report} is older than this run:\n{output}");

        string markdown = await File.ReadAllTextAsync(report);
        Dictionary<string, Dictionary<string, string>> figures = ParseTables(markdown);
        foreach ((string figure, string[] paths) in ExpectedFigures)
        {
            Assert.True(figures.TryGetValue(figure, out Dictionary<string, string>? values), $"figure '{figure}' missing:\n{markdown}");
            foreach (string path in paths)
            {
                Assert.True(values.TryGetValue(path, out string? cell), $"figure '{figure}' has no column '{path}':\n{markdown}");
                Assert.True(IsNumber(cell), $"figure '{figure}', path '{path}': '{cell}' is not a number:\n{markdown}");
            }
        }

        Assert.Equal(ExpectedFigures.Keys.Order(StringComparer.Ordinal), figures.Keys.Order(StringComparer.Ordinal));
    }

    /// <summary>Every Markdown table row: figure (first cell) → column title → cell.</summary>
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

    private static bool IsNumber(string text) =>
        double.TryParse(text, NumberStyles.Float | NumberStyles.AllowThousands, CultureInfo.InvariantCulture, out double value)
        && double.IsFinite(value);
}
