using System.Buffers;
using BenchmarkDotNet.Attributes;

namespace ProxyKestrel.ProxyProtocol.Benchmarks;

/// <summary>
/// <see cref="ProxyHeaderParser.Parse(in ReadOnlySequence{byte}, out ProxyHeader, out ProxyParseError)"/> over complete
/// headers followed by application bytes. Each benchmark reads the result so the work cannot be optimized away.
/// </summary>
[MemoryDiagnoser]
public class ParseBenchmarks
{
    private ReadOnlySequence<byte> _v1Tcp4;
    private ReadOnlySequence<byte> _v1Tcp4MultiSegment;
    private ReadOnlySequence<byte> _v1Tcp6;
    private ReadOnlySequence<byte> _v2Tcp4;
    private ReadOnlySequence<byte> _v2Tcp6WithTlvs;
    private ReadOnlySequence<byte> _v2Tcp6WithTlvsMultiSegment;

    [GlobalSetup]
    public void Setup()
    {
        byte[] v1Tcp4 = HeaderSamples.V1(HeaderSamples.Source4, HeaderSamples.Destination4);
        _v1Tcp4 = new ReadOnlySequence<byte>(v1Tcp4);

        // "PROXY TCP4 192.168.100.200 10.0.0.1 56324 443\r\n" cut inside the source and the destination address.
        _v1Tcp4MultiSegment = BufferSegment.Split(v1Tcp4, 20, 32);
        _v1Tcp6 = new ReadOnlySequence<byte>(HeaderSamples.V1(HeaderSamples.Source6, HeaderSamples.Destination6));
        _v2Tcp4 = new ReadOnlySequence<byte>(HeaderSamples.V2(HeaderSamples.Source4, HeaderSamples.Destination4));

        byte[] withTlvs = HeaderSamples.V2Tcp6WithTlvs(out _);
        _v2Tcp6WithTlvs = new ReadOnlySequence<byte>(withTlvs);

        // Same bytes, three segments: cut inside the source address (16 + 10) and inside the AUTHORITY value
        // (16 + 36 address block, 5 bytes of ALPN, 3 bytes of AUTHORITY type/length, then 5 value bytes).
        _v2Tcp6WithTlvsMultiSegment = BufferSegment.Split(withTlvs, 26, 65);

        // Fail fast if an input does not parse (a broken benchmark must not measure the error path).
        foreach (ReadOnlySequence<byte> input in new[] { _v1Tcp4, _v1Tcp4MultiSegment, _v1Tcp6, _v2Tcp4, _v2Tcp6WithTlvs, _v2Tcp6WithTlvsMultiSegment })
        {
            ProxyParseStatus status = ProxyHeaderParser.Parse(input, out ProxyHeader header, out ProxyParseError error);
            if (status != ProxyParseStatus.Complete || header.Length != input.Length - HeaderSamples.ApplicationBytes.Length)
            {
                throw new InvalidOperationException($"Benchmark input does not parse: {status} {error}.");
            }
        }

        if (ReadTlvs(_v2Tcp6WithTlvs) != ReadTlvs(_v2Tcp6WithTlvsMultiSegment))
        {
            throw new InvalidOperationException("The multi-segment input does not give the same TLVs.");
        }
    }

    [Benchmark(Baseline = true)]
    public int ParseV1Tcp4() => ParseAndRead(_v1Tcp4);

    [Benchmark]
    public int ParseV1Tcp4MultiSegment() => ParseAndRead(_v1Tcp4MultiSegment);

    [Benchmark]
    public int ParseV1Tcp6() => ParseAndRead(_v1Tcp6);

    [Benchmark]
    public int ParseV2Tcp4() => ParseAndRead(_v2Tcp4);

    [Benchmark]
    public int ParseV2Tcp6WithTlvs() => ReadTlvs(_v2Tcp6WithTlvs);

    [Benchmark]
    public int ParseV2Tcp6WithTlvsMultiSegment() => ReadTlvs(_v2Tcp6WithTlvsMultiSegment);

    private static int ParseAndRead(in ReadOnlySequence<byte> input)
    {
        ProxyParseStatus status = ProxyHeaderParser.Parse(input, out ProxyHeader header, out _);
        return (int)status + header.SourcePort + header.DestinationPort + header.Length;
    }

    private static int ReadTlvs(in ReadOnlySequence<byte> input)
    {
        ProxyParseStatus status = ProxyHeaderParser.Parse(input, out ProxyHeader header, out _);
        int result = (int)status + header.SourcePort + header.Length;
        foreach (ProxyTlv tlv in header.Tlvs)
        {
            result += tlv.Type + (int)tlv.Value.Length;
        }

        if (header.TryGetAuthority(out ReadOnlySequence<byte> authority))
        {
            result += (int)authority.Length;
        }

        return result;
    }
}
