using System.Text.RegularExpressions;

namespace ProxyKestrel.Gateway.Tests.Benchmarks;

/// <summary>
/// Runs the mail benchmark harness (<c>eng/bench/mail/run.sh --smoke</c>: IMAP sessions direct to Dovecot, through
/// nginx's mail proxy and through the gateway's mail front, 1 round of 2 s steps) end to end and checks that its
/// report has a number for every figure of every path, and that Dovecot saw the client's own address through the
/// gateway (its PROXY v2 header) and nginx's through nginx. No threshold on the values: this guards the harness
/// (tools, processes, parsing), not the gateway's speed.
/// </summary>
[Collection(ProxyKestrel.Gateway.Tests.Infrastructure.TimingSensitive.Name)]
public class MailBenchmarkSmokeTests
{
    /// <summary>Every figure the report must have, by the key in its first column, and whether it has a gateway/nginx ratio.</summary>
    private static readonly (string Figure, bool Ratio)[] Figures =
    [
        ("logins", true), ("p50", true), ("p99", true), ("cpu-proxy", true), ("cpu-auth", true), ("cpu-dovecot", true),
        ("cpu-gen", true), ("gen-busy", false), ("other", false), ("idle", false), ("errors", false),
    ];

    /// <summary>Cells that are "n/a" by design: "direct" has no proxy and asks no auth_http server.</summary>
    private static readonly HashSet<(string Figure, string Path)> NotApplicable = [("cpu-proxy", "direct"), ("cpu-auth", "direct")];

    private static readonly Regex Row = new(
        @"^\| `(?<key>[A-Za-z0-9-]+)` [^|]*\| (?<direct>[^|]*) \| (?<nginx>[^|]*) \| (?<gateway>[^|]*) \| (?<ratio>[^|]*) \|",
        RegexOptions.Multiline | RegexOptions.CultureInvariant);

    /// <summary>A row of "Which client Dovecot saw": rip, lport, logins, path.</summary>
    private static readonly Regex SeenRow = new(
        @"^\| (?<rip>[0-9.]+) \| (?<lport>\d+) \| (?<count>[\d,]+) \| (?<path>[^|]*) \|",
        RegexOptions.Multiline | RegexOptions.CultureInvariant);

    private static readonly Regex Number = new(@"^-?\d[\d,]*(\.\d+)?$", RegexOptions.CultureInvariant);

    [Fact]
    public async Task RunSh_Smoke_ReportsEveryFigure()
    {
        string root = RepoPaths.Root;
        string report = Path.Combine(root, "artifacts", "bench", "mail-smoke.md");
        if (File.Exists(report))
        {
            // A clean clone has no artifacts/bench yet (File.Delete would throw for the missing folder).
            File.Delete(report);
        }

        // Measurements on this shared machine take turns through this lock: wait for a concurrent run up to
        // 10 minutes (flock then exits with 75); the smoke itself takes well under a minute.
        await using ChildProcess run = ChildProcess.Start(
            "flock",
            ["-E", "75", "-w", "600", "/tmp/proxykestrel-bench.lock", "bash", "eng/bench/mail/run.sh", "--smoke"],
            workingDirectory: root,
            name: "mail run.sh --smoke",
            maxCapturedChars: 200_000);
        int exitCode;
        try
        {
            exitCode = await run.WaitForExitAsync(TimeSpan.FromMinutes(15));
        }
        catch (OperationCanceledException)
        {
            Assert.Fail($"mail run.sh --smoke did not finish within 15 minutes. Output:\n{run.Output}");
            throw;
        }

        Assert.True(exitCode != 75, "the benchmark lock /tmp/proxykestrel-bench.lock stayed busy for 10 minutes");
        Assert.True(exitCode == 0, $"mail run.sh --smoke exited with {exitCode}. Output:\n{run.Output}");
        Assert.True(File.Exists(report), $"{report} was not written. Output:\n{run.Output}");
        string markdown = await File.ReadAllTextAsync(report);

        var rows = Row.Matches(markdown).ToDictionary(m => m.Groups["key"].Value, m => m);
        foreach ((string figure, bool hasRatio) in Figures)
        {
            Assert.True(rows.TryGetValue(figure, out Match? row), $"no row for {figure} in:\n{markdown}");
            foreach (string path in (string[])["direct", "nginx", "gateway"])
            {
                string cell = row.Groups[path].Value.Trim();
                if (NotApplicable.Contains((figure, path)))
                {
                    Assert.True(cell == "n/a", $"{figure} / {path}: expected n/a, got '{cell}'");
                }
                else
                {
                    Assert.True(Number.IsMatch(cell), $"{figure} / {path}: no number ('{cell}') in:\n{markdown}");
                }
            }

            string ratio = row.Groups["ratio"].Value.Trim();
            Assert.True(hasRatio ? Number.IsMatch(ratio) : ratio == "–", $"{figure}: gateway/nginx '{ratio}' in:\n{markdown}");
        }

        // Every login Dovecot logged is one of the three paths, and each path logged some: through the gateway with
        // the client's address (127.0.0.2, from the PROXY header), through nginx with nginx's own (127.0.0.1).
        Match[] seenRows = [.. SeenRow.Matches(markdown).Cast<Match>()];
        Assert.True(seenRows.Length == 3, $"expected one Dovecot login row per path in:\n{markdown}");
        var seen = seenRows.ToDictionary(m => m.Groups["path"].Value.Split(' ')[0], m => m);
        Assert.DoesNotContain("unexpected", seen.Keys);
        Assert.Equal("127.0.0.2", seen["gateway"].Groups["rip"].Value);
        Assert.Equal("127.0.0.1", seen["nginx"].Groups["rip"].Value);
        Assert.Equal("127.0.0.2", seen["direct"].Groups["rip"].Value);

        // The smoke writes only under artifacts/: docs/ never gets a smoke report (a full run may legitimately rewrite
        // docs/ while this test waits for the lock, so the check is on content, not on modification).
        string? docsSection = MailSection(Path.Combine(root, "docs", "benchmarks.md"));
        Assert.DoesNotContain("run.sh --smoke", docsSection ?? "", StringComparison.Ordinal);
    }

    private static string? MailSection(string path)
    {
        if (!File.Exists(path))
        {
            return null;
        }

        string text = File.ReadAllText(path);
        int begin = text.IndexOf("<!-- mail-bench:begin", StringComparison.Ordinal);
        int end = text.IndexOf("<!-- mail-bench:end -->", StringComparison.Ordinal);
        return begin >= 0 && end > begin ? text[begin..end] : null;
    }
}
