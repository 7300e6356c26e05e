using ProxyKestrel.ProxyProtocol.Fuzzing;

namespace ProxyKestrel.ProxyProtocol.Tests.Fuzzing;

/// <summary>
/// Replays every seed (eng/fuzz/corpus) and every input that once failed (eng/fuzz/regressions) through the fuzz
/// target, the same code the AFL harness runs: all the parser, TLV, reader, evaluator and writer round-trip
/// invariants hold for each of them, in every CI run.
/// </summary>
public class FuzzReplayTests
{
    public static TheoryData<string> Inputs()
    {
        var data = new TheoryData<string>();
        foreach (string folder in new[] { "corpus", "regressions" })
        {
            string directory = Path.Combine(RepoPaths.Root, "eng", "fuzz", folder);
            foreach (string file in Directory.GetFiles(directory).Order(StringComparer.Ordinal))
            {
                if (!file.EndsWith(".md", StringComparison.Ordinal))
                {
                    data.Add($"{folder}/{Path.GetFileName(file)}");
                }
            }
        }

        return data;
    }

    [Theory]
    [MemberData(nameof(Inputs))]
    public void Input_KeepsEveryInvariant(string relativePath)
    {
        byte[] input = File.ReadAllBytes(Path.Combine(RepoPaths.Root, "eng", "fuzz", relativePath));
        CodecFuzzTarget.Run(input);
    }

    [Fact]
    public void Corpus_IsNotEmpty() => Assert.True(Inputs().Count >= 20, "eng/fuzz/corpus holds fewer than 20 seeds");
}
