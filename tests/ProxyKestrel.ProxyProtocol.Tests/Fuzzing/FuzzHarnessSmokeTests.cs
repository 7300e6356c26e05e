using System.Globalization;

namespace ProxyKestrel.ProxyProtocol.Tests.Fuzzing;

/// <summary>
/// CI smoke of the coverage-guided fuzzing harness (so that it cannot rot): <c>bash eng/fuzz/run.sh --smoke</c>
/// publishes and instruments the harness, runs AFL++ for 60 s from the seed corpus and appends its row (scale smoke)
/// to artifacts/reliability/results.jsonl. The run must execute inputs and find no crash and no hang.
/// It uses its own work folder (artifacts/fuzz-smoke) so that a long run (artifacts/fuzz) can go on meanwhile.
/// </summary>
[Trait("Category", "Reliability")]
public class FuzzHarnessSmokeTests
{
    [Fact]
    public async Task Smoke_RunsAflForSixtySeconds_WithoutCrashOrHang()
    {
        string work = Path.Combine(RepoPaths.Root, "artifacts", "fuzz-smoke");
        string summaryPath = Path.Combine(work, "summary.txt");
        Directory.CreateDirectory(work);
        File.Delete(summaryPath);

        await using ChildProcess run = ChildProcess.Start(
            "bash",
            ["eng/fuzz/run.sh", "--smoke"],
            workingDirectory: RepoPaths.Root,
            environment: [new("FUZZ_WORK_DIR", work)],
            name: "fuzz-smoke",
            maxCapturedChars: 200_000);
        int exitCode = await run.WaitForExitAsync(TimeSpan.FromMinutes(6));

        Assert.True(File.Exists(summaryPath), $"no summary; output:\n{run.Output}");
        Dictionary<string, string> summary = File.ReadAllLines(summaryPath)
            .Where(l => l.Contains('=', StringComparison.Ordinal))
            .Select(l => l.Split('=', 2))
            .ToDictionary(p => p[0], p => p[1], StringComparer.Ordinal);
        Assert.True(exitCode == 0, $"run.sh --smoke exited {exitCode}; output:\n{run.Output}");
        Assert.True(long.TryParse(summary["execs_done"], NumberStyles.Integer, CultureInfo.InvariantCulture, out long execs) && execs > 0, $"execs_done={summary["execs_done"]}");
        Assert.Equal("0", summary["crashes"]);
        Assert.Equal("0", summary["hangs"]);
        Assert.Equal("true", summary["passed"]);
    }
}
