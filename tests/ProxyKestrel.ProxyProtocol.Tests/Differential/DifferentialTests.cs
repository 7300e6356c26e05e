using System.Diagnostics;
using System.Text;
using Xunit.Abstractions;

namespace ProxyKestrel.ProxyProtocol.Tests.Differential;

/// <summary>Compares our parser with a real HAProxy 2.6 on the whole <see cref="DifferentialCorpus"/>.</summary>
public sealed class DifferentialTests : IClassFixture<HaproxyFixture>
{
    private readonly HaproxyFixture _haproxy;
    private readonly ITestOutputHelper _output;

    public DifferentialTests(HaproxyFixture haproxy, ITestOutputHelper output)
    {
        _haproxy = haproxy;
        _output = output;
    }

    [Fact]
    public async Task Parse_DifferentialCorpus_MatchesHaproxyOrDocumentedDifference()
    {
        IReadOnlyList<DifferentialCase> corpus = DifferentialCorpus.All;
        IReadOnlyDictionary<string, DocumentedDifference> documented = DocumentedDifferences.All;
        var failures = new StringBuilder();
        int failureCount = 0;
        int differences = 0;
        var stopwatch = Stopwatch.StartNew();

        foreach (DifferentialCase testCase in corpus)
        {
            string ours = DifferentialRunner.Ours(testCase, out string ourDetail);
            (string haproxy, string haproxyDetail) = await DifferentialRunner.HaproxyAsync(_haproxy.EndPoint, testCase);
            _output.WriteLine($"{testCase.Name} | ours: {ours} ({ourDetail}) | haproxy: {haproxy}");

            string? problem = null;
            if (documented.TryGetValue(testCase.Name, out DocumentedDifference? expected))
            {
                differences++;
                if (ours != expected.Ours || haproxy != expected.Haproxy)
                {
                    problem = $"documented difference no longer holds (expected ours: {expected.Ours} / haproxy: {expected.Haproxy})";
                }
            }
            else if (ours != haproxy)
            {
                problem = "undocumented difference";
            }

            if (problem is not null)
            {
                failureCount++;
                failures.AppendLine($"- {testCase.Name}: {problem}")
                    .AppendLine($"    ours:    {ours} ({ourDetail})")
                    .AppendLine($"    haproxy: {haproxy} ({haproxyDetail})")
                    .AppendLine($"    hex:     {testCase.Hex}");
            }
        }

        foreach (string name in documented.Keys)
        {
            if (!corpus.Any(c => c.Name == name))
            {
                failureCount++;
                failures.AppendLine($"- {name}: documented difference for a case that is not in the corpus");
            }
        }

        _output.WriteLine($"{corpus.Count} cases, {differences} documented differences, {failureCount} failures, {stopwatch.Elapsed.TotalSeconds:F1} s against {_haproxy.Version}");
        if (failureCount > 0)
        {
            Assert.Fail($"{failureCount} of {corpus.Count} cases disagree with HAProxy ({_haproxy.Version}) and docs/haproxy-differences.md:\n{failures}\nHAProxy output (tail):\n{Tail(_haproxy.CapturedOutput)}");
        }
    }

    private static string Tail(string text) => text.Length <= 2000 ? text : text[^2000..];
}

/// <summary>Checks on the corpus and the documented-differences table that need no HAProxy.</summary>
public sealed class DifferentialCorpusTests
{
    private const int MinimumPerVerdict = 60;

    private readonly ITestOutputHelper _output;

    public DifferentialCorpusTests(ITestOutputHelper output) => _output = output;

    [Fact]
    public void Corpus_Composition_HasEnoughValidInvalidAndMutatedCases()
    {
        IReadOnlyList<DifferentialCase> corpus = DifferentialCorpus.All;
        _output.WriteLine(string.Join(", ", corpus.GroupBy(c => c.Verdict).Select(g => $"{g.Key}: {g.Count()}")));

        Assert.True(corpus.Count(c => c.Verdict == SpecVerdict.Valid) >= MinimumPerVerdict, "too few valid cases");
        Assert.True(corpus.Count(c => c.Verdict == SpecVerdict.Invalid) >= MinimumPerVerdict, "too few invalid cases");
        Assert.Equal(DifferentialCorpus.MutationCount, corpus.Count(c => c.Verdict == SpecVerdict.Mutation));
        Assert.Equal(corpus.Count, corpus.Select(c => c.Name).Distinct(StringComparer.Ordinal).Count());
    }

    [Fact]
    public void Parse_LabelledCorpusCases_MatchSpecVerdict()
    {
        var wrong = DifferentialCorpus.All
            .Where(c => c.Verdict != SpecVerdict.Mutation)
            .Select(c => (Case: c, Ours: DifferentialRunner.Ours(c, out string detail), Detail: detail))
            .Where(r => (r.Ours == DifferentialRunner.Rejected) != (r.Case.Verdict == SpecVerdict.Invalid))
            .Select(r => $"- {r.Case.Name} ({r.Case.Verdict}): {r.Ours} ({r.Detail}) hex {r.Case.Hex}")
            .ToList();

        Assert.True(wrong.Count == 0, "our parser disagrees with the spec labels:\n" + string.Join('\n', wrong));
    }

    [Fact]
    public void DocumentedDifferences_EveryEntry_IsARealDifference()
    {
        foreach ((string name, DocumentedDifference d) in DocumentedDifferences.All)
        {
            Assert.True(d.Ours != d.Haproxy, $"{name}: documented outcomes are equal");
            Assert.False(string.IsNullOrWhiteSpace(d.Reason), $"{name}: no reason given");
        }
    }

    [Fact]
    public void Crc32C_KnownVector_MatchesRfc3720()
    {
        // RFC 3720 B.4: 32 bytes of zeros -> 0x8A9136AA.
        Assert.Equal(0x8A9136AAu, DifferentialCorpus.Crc32C(new byte[32]));
    }
}
