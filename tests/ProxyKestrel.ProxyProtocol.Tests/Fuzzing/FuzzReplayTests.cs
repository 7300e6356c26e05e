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

    /// <summary>The datagram target's seeds (eng/fuzz/corpus-datagram), the codec seeds and the regressions: each is also a datagram.</summary>
    public static TheoryData<string> DatagramInputs()
    {
        var data = new TheoryData<string>();
        foreach (string folder in new[] { "corpus-datagram", "corpus", "regressions" })
        {
            foreach (string file in Directory.GetFiles(Path.Combine(RepoPaths.Root, "eng", "fuzz", folder)).Order(StringComparer.Ordinal))
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
    [MemberData(nameof(DatagramInputs))]
    public void DatagramInput_KeepsEveryInvariant(string relativePath)
    {
        byte[] input = File.ReadAllBytes(Path.Combine(RepoPaths.Root, "eng", "fuzz", relativePath));
        DatagramFuzzTarget.Run(input);
    }

    [Fact]
    public void DatagramCorpus_HoldsAcceptedAndRejectedSeeds()
    {
        ProxyDatagramReceiver receiver = ProxyDatagramReceiver.Create(new ProxyProtocolOptions());
        var statuses = new HashSet<ProxyDatagramStatus>();
        foreach (string file in Directory.GetFiles(Path.Combine(RepoPaths.Root, "eng", "fuzz", "corpus-datagram")))
        {
            statuses.Add(receiver.Receive(File.ReadAllBytes(file), new System.Net.IPEndPoint(System.Net.IPAddress.Loopback, 1), out _));
        }

        Assert.Contains(ProxyDatagramStatus.Accepted, statuses);
        Assert.Contains(ProxyDatagramStatus.Rejected, statuses);
    }

    [Fact]
    public void Corpus_IsNotEmpty() => Assert.True(Inputs().Count >= 20, "eng/fuzz/corpus holds fewer than 20 seeds");
}
