using BenchmarkDotNet.Attributes;

namespace ProxyKestrel.ProxyProtocol.Benchmarks;

/// <summary>
/// <see cref="ProxyHeaderWriter"/> (v1) and <see cref="ProxyV2HeaderWriter"/> (v2) into a preallocated buffer, from
/// <see cref="System.Net.IPEndPoint"/> objects created once.
/// </summary>
[MemoryDiagnoser]
public class WriteBenchmarks
{
    private byte[] _buffer = [];

    [GlobalSetup]
    public void Setup() => _buffer = new byte[1024];

    [Benchmark(Baseline = true)]
    public int WriteV1Tcp4() => ProxyHeaderWriter.WriteV1(_buffer, HeaderSamples.Source4, HeaderSamples.Destination4);

    [Benchmark]
    public int WriteV1Tcp6() => ProxyHeaderWriter.WriteV1(_buffer, HeaderSamples.Source6, HeaderSamples.Destination6);

    [Benchmark]
    public int WriteV2Tcp4()
    {
        var writer = ProxyV2HeaderWriter.Proxy(
            _buffer, HeaderSamples.Source4.Address, HeaderSamples.Source4.Port, HeaderSamples.Destination4.Address, HeaderSamples.Destination4.Port);
        return writer.Complete();
    }

    [Benchmark]
    public int WriteV2Tcp6WithTlvsAndCrc() => HeaderSamples.WriteV2Tcp6WithTlvs(_buffer);
}
