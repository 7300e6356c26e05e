using BenchmarkDotNet.Running;

namespace ProxyKestrel.ProxyProtocol.Benchmarks;

internal static class Program
{
    public static void Main(string[] args) => BenchmarkSwitcher.FromAssembly(typeof(Program).Assembly).Run(args);
}
