using System.Text.RegularExpressions;

namespace ProxyKestrel.Gateway.Tests.Benchmarks;

/// <summary>
/// Runs the relay benchmark harness (<c>eng/bench/relay/run.sh --smoke</c>: direct / HAProxy / gateway, 1 round of
/// 1 s steps) end to end and checks that its report has a number for every figure of every relay. No threshold on the
/// values: this guards the harness (tools, processes, parsing), not the gateway's speed.
/// </summary>
[Collection(ProxyKestrel.Gateway.Tests.Infrastructure.TimingSensitive.Name)]
public class RelayBenchmarkSmokeTests
{
    /// <summary>Every figure the report must have, by the key in its first column.</summary>
    private static readonly string[] Figures =
    [
        "up-P1", "up-P4", "down-P1", "down-P4", "conn", "p99",
        "fixed-rate", "fixed-p50", "fixed-p99", "fixed-p999",
        "pp-conn", "pp-cost", "cpu-gb", "cpu-kconn", "mem-rss", "mem-heap",
    ];

    /// <summary>Cells that are "n/a" by design: "direct" has no relay process, HAProxy no managed heap.</summary>
    private static readonly HashSet<(string Figure, string Relay)> NotApplicable =
    [
        ("cpu-gb", "direct"), ("cpu-kconn", "direct"), ("mem-rss", "direct"),
        ("mem-heap", "direct"), ("mem-heap", "haproxy"),
    ];

    private static readonly Regex Row = new(
        @"^\| `(?<key>[A-Za-z0-9-]+)` [^|]*\| (?<direct>[^|]*) \| (?<haproxy>[^|]*) \| (?<gateway>[^|]*) \| (?<ratio>[^|]*) \|",
        RegexOptions.Multiline | RegexOptions.CultureInvariant);

    private static readonly Regex Number = new(@"^-?\d[\d,]*(\.\d+)?$", RegexOptions.CultureInvariant);

    [Fact]
    public async Task RunSh_Smoke_ReportsEveryFigure()
    {
        string root = RepoPaths.Root;
        string report = Path.Combine(root, "artifacts", "bench", "relay-smoke.md");
        if (File.Exists(report))
        {
            // A clean clone has no artifacts/bench yet (File.Delete would throw for the missing folder).
            File.Delete(report);
        }

        // Measurements on this shared machine are serialized through this lock (see the bench scripts): wait for a
        // concurrent run up to 10 minutes (flock then exits with 75), then the smoke itself takes ~1.5 minutes.
        await using ChildProcess run = ChildProcess.Start(
            "flock",
            ["-E", "75", "-w", "600", "/tmp/proxykestrel-bench.lock", "bash", "eng/bench/relay/run.sh", "--smoke"],
            workingDirectory: root,
            name: "run.sh --smoke",
            maxCapturedChars: 200_000);
        int exitCode;
        try
        {
            exitCode = await run.WaitForExitAsync(TimeSpan.FromMinutes(15));
        }
        catch (OperationCanceledException)
        {
            Assert.Fail($"run.sh --smoke did not finish within 15 minutes. Output:\n{run.Output}");
            throw;
        }

        Assert.True(exitCode != 75, "the benchmark lock /tmp/proxykestrel-bench.lock stayed busy for 10 minutes");
        Assert.True(exitCode == 0, $"run.sh --smoke exited with {exitCode}. Output:\n{run.Output}");
        Assert.True(File.Exists(report), $"{report} was not written. Output:\n{run.Output}");
        string markdown = await File.ReadAllTextAsync(report);

        var rows = Row.Matches(markdown).ToDictionary(m => m.Groups["key"].Value, m => m);
        foreach (string figure in Figures)
        {
            Assert.True(rows.TryGetValue(figure, out Match? row), $"no row for {figure} in:\n{markdown}");
            foreach (string relay in (string[])["direct", "haproxy", "gateway"])
            {
                string cell = row.Groups[relay].Value.Trim();
                if (NotApplicable.Contains((figure, relay)))
                {
                    Assert.True(cell == "n/a", $"{figure} / {relay}: expected n/a, got '{cell}'");
                }
                else
                {
                    Assert.True(Number.IsMatch(cell), $"{figure} / {relay}: no number ('{cell}') in:\n{markdown}");
                }
            }

            // gateway/HAProxy: a number wherever both relays have one.
            if (!NotApplicable.Contains((figure, "haproxy")))
            {
                string ratio = row.Groups["ratio"].Value.Trim();
                Assert.True(Number.IsMatch(ratio), $"{figure}: no gateway/HAProxy ratio ('{ratio}') in:\n{markdown}");
            }
        }

        Assert.DoesNotContain("no data", await File.ReadAllTextAsync(Path.ChangeExtension(report, ".svg")), StringComparison.Ordinal);

        // The smoke writes only under artifacts/: docs/ never gets a smoke report (a full run may legitimately rewrite
        // docs/ while this test waits for the lock, so the check is on content, not on modification).
        string? docsSection = RelaySection(Path.Combine(root, "docs", "benchmarks.md"));
        Assert.DoesNotContain("run.sh --smoke", docsSection ?? "", StringComparison.Ordinal);
        string docsSvg = Path.Combine(root, "docs", "benchmarks-relay.svg");
        Assert.DoesNotContain("(smoke)", File.Exists(docsSvg) ? await File.ReadAllTextAsync(docsSvg) : "", StringComparison.Ordinal);
    }

    private static string? RelaySection(string path)
    {
        if (!File.Exists(path))
        {
            return null;
        }

        string text = File.ReadAllText(path);
        int begin = text.IndexOf("<!-- relay-bench:begin", StringComparison.Ordinal);
        int end = text.IndexOf("<!-- relay-bench:end -->", StringComparison.Ordinal);
        return begin >= 0 && end > begin ? text[begin..end] : null;
    }
}
