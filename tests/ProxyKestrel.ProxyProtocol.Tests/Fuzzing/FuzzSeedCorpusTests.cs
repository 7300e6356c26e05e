using System.Security.Cryptography;
using System.Text;
using ProxyKestrel.ProxyProtocol.Tests.Differential;

namespace ProxyKestrel.ProxyProtocol.Tests.Fuzzing;

/// <summary>
/// The seed corpus of eng/fuzz is the codec tests' vectors written out as files: the hand-written valid and invalid
/// cases of <see cref="DifferentialCorpus"/> and the headers of <see cref="ProxyHeaderParserDetectionTests"/>.
/// With <c>PROXYKESTREL_EXPORT_FUZZ_SEEDS=1</c> the test (re)writes eng/fuzz/corpus; otherwise it checks that the
/// committed corpus holds every vector, byte for byte.
/// </summary>
public class FuzzSeedCorpusTests
{
    private const int MaxSeeds = 150;

    public static string CorpusDirectory => Path.Combine(RepoPaths.Root, "eng", "fuzz", "corpus");

    /// <summary>File name → content of every seed.</summary>
    public static IReadOnlyDictionary<string, byte[]> Seeds()
    {
        var seeds = new SortedDictionary<string, byte[]>(StringComparer.Ordinal);
        var contents = new HashSet<string>(StringComparer.Ordinal);
        void Add(string prefix, string name, byte[] content)
        {
            if (content.Length == 0 || !contents.Add(Convert.ToHexString(content)))
            {
                return;
            }

            var file = new StringBuilder(prefix);
            foreach (char ch in name)
            {
                file.Append(char.IsAsciiLetterOrDigit(ch) ? char.ToLowerInvariant(ch) : '-');
            }

            string hash = Convert.ToHexString(SHA256.HashData(content))[..8].ToLowerInvariant();
            seeds[$"{file}-{hash}"] = content;
        }

        foreach (object[] row in ProxyHeaderParserDetectionTests.ValidHeaders)
        {
            Add("detect-", (string)row[0], (byte[])row[1]);
        }

        // Every valid vector; the invalid ones thinned out evenly (every k-th in corpus order) so that the corpus
        // stays small: AFL mutates valid headers into invalid ones by itself.
        foreach (DifferentialCase c in DifferentialCorpus.All.Where(c => c.Verdict == SpecVerdict.Valid))
        {
            Add("valid-", c.Name, c.Header.ToArray());
        }

        DifferentialCase[] invalid = DifferentialCorpus.All.Where(c => c.Verdict == SpecVerdict.Invalid).ToArray();
        int room = Math.Max(1, MaxSeeds - seeds.Count);
        int stride = (invalid.Length + room - 1) / room;
        for (int i = 0; i < invalid.Length; i += stride)
        {
            Add("invalid-", invalid[i].Name, invalid[i].Header.ToArray());
        }

        return seeds;
    }

    [Fact]
    public void CommittedCorpus_HoldsEveryCodecTestVector()
    {
        IReadOnlyDictionary<string, byte[]> seeds = Seeds();
        Assert.InRange(seeds.Count, 20, MaxSeeds);
        if (Environment.GetEnvironmentVariable("PROXYKESTREL_EXPORT_FUZZ_SEEDS") == "1")
        {
            Directory.CreateDirectory(CorpusDirectory);
            foreach (string old in Directory.GetFiles(CorpusDirectory))
            {
                File.Delete(old);
            }

            foreach ((string name, byte[] content) in seeds)
            {
                File.WriteAllBytes(Path.Combine(CorpusDirectory, name), content);
            }
        }

        foreach ((string name, byte[] content) in seeds)
        {
            string path = Path.Combine(CorpusDirectory, name);
            Assert.True(File.Exists(path), $"{path} is missing: run the test with PROXYKESTREL_EXPORT_FUZZ_SEEDS=1");
            Assert.Equal(content, File.ReadAllBytes(path));
        }

        Assert.Equal(seeds.Count, Directory.GetFiles(CorpusDirectory).Length);
    }
}
