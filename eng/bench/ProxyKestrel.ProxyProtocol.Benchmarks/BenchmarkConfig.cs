using BenchmarkDotNet.Columns;
using BenchmarkDotNet.Configs;
using BenchmarkDotNet.Diagnosers;
using BenchmarkDotNet.Exporters;
using BenchmarkDotNet.Exporters.Csv;
using BenchmarkDotNet.Jobs;
using BenchmarkDotNet.Loggers;

namespace ProxyKestrel.ProxyProtocol.Benchmarks;

/// <summary>
/// A bounded configuration for a small shared machine: one process, 3 warmup and 10 measured iterations per
/// benchmark, memory diagnoser, GitHub markdown and CSV reports in BenchmarkDotNet.Artifacts/results.
/// </summary>
internal static class BenchmarkConfig
{
    public static IConfig Create(bool addBoundedJob)
    {
        ManualConfig config = ManualConfig.CreateEmpty()
            .AddColumnProvider(DefaultColumnProviders.Instance)
            .AddLogger(ConsoleLogger.Default)
            .AddAnalyser(DefaultConfig.Instance.GetAnalysers().ToArray())
            .AddValidator(DefaultConfig.Instance.GetValidators().ToArray())
            .AddDiagnoser(MemoryDiagnoser.Default)
            .AddExporter(MarkdownExporter.GitHub, CsvExporter.Default);

        if (addBoundedJob)
        {
            config.AddJob(Job.Default
                .WithLaunchCount(1)
                .WithWarmupCount(3)
                .WithIterationCount(10)
                .WithId("Bounded"));
        }

        return config;
    }
}
