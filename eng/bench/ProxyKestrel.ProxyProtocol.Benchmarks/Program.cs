using BenchmarkDotNet.Running;

namespace ProxyKestrel.ProxyProtocol.Benchmarks;

internal static class Program
{
    /// <summary>
    /// Runs the benchmarks chosen by the BenchmarkDotNet command line (<c>--filter '*'</c>, ...). Without <c>--job</c>
    /// the bounded job of <see cref="BenchmarkConfig"/> is used; <c>--job dry</c> is the quick smoke mode.
    /// </summary>
    public static void Main(string[] args)
    {
        bool jobGiven = args.Any(a => a is "--job" or "-j" || a.StartsWith("--job=", StringComparison.Ordinal));
        BenchmarkSwitcher.FromAssembly(typeof(Program).Assembly).Run(args, BenchmarkConfig.Create(addBoundedJob: !jobGiven));
    }
}
