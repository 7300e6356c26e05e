using System.Globalization;
using System.Text.Json;

namespace ProxyKestrel.Testing;

/// <summary>
/// Appends one line per reliability scenario run to <c>artifacts/reliability/results.jsonl</c>, from which
/// <c>eng/reliability/report.py</c> writes the table of docs/reliability.md.
/// </summary>
public static class ReliabilityResults
{
    private static readonly object s_gate = new();

    /// <summary>The results file.</summary>
    public static string FilePath { get; } = Path.Combine(RepoPaths.Root, "artifacts", "reliability", "results.jsonl");

    /// <summary>Records one run of a scenario at the current <see cref="ReliabilityScale"/>.</summary>
    public static void Append(string section, string scenario, string title, long? inputs, long? connections,
        long? bytesVerified, long? faults, long lost, long corrupted, long? spoofed, string details, string command, bool passed)
    {
        var row = new Dictionary<string, object?>
        {
            ["section"] = section,
            ["scenario"] = scenario,
            ["scale"] = ReliabilityScale.Name,
            ["title"] = title,
            ["inputs"] = inputs,
            ["connections"] = connections,
            ["bytes_verified"] = bytesVerified,
            ["faults"] = faults,
            ["lost"] = lost,
            ["corrupted"] = corrupted,
            ["spoofed"] = spoofed,
            ["details"] = details,
            ["command"] = command,
            ["date"] = DateTime.UtcNow.ToString("yyyy-MM-dd HH:mm", CultureInfo.InvariantCulture),
            ["passed"] = passed,
        };
        string line = JsonSerializer.Serialize(row) + "\n";
        lock (s_gate)
        {
            Directory.CreateDirectory(Path.GetDirectoryName(FilePath)!);
            File.AppendAllText(FilePath, line);
        }
    }
}
