using System.Buffers;

namespace ProxyKestrel.ProxyProtocol.Benchmarks;

/// <summary>A linked segment for building multi-segment <see cref="ReadOnlySequence{T}"/> inputs.</summary>
internal sealed class BufferSegment : ReadOnlySequenceSegment<byte>
{
    private BufferSegment(ReadOnlyMemory<byte> memory, long runningIndex)
    {
        Memory = memory;
        RunningIndex = runningIndex;
    }

    /// <summary>Splits <paramref name="data"/> at the given offsets (ascending) into a sequence of that many + 1 segments.</summary>
    public static ReadOnlySequence<byte> Split(byte[] data, params int[] cuts)
    {
        ArgumentNullException.ThrowIfNull(data);
        var first = new BufferSegment(data.AsMemory(0, cuts[0]), 0);
        BufferSegment last = first;
        for (int i = 0; i < cuts.Length; i++)
        {
            int start = cuts[i];
            int end = i + 1 < cuts.Length ? cuts[i + 1] : data.Length;
            var next = new BufferSegment(data.AsMemory(start, end - start), start);
            last.Next = next;
            last = next;
        }

        return new ReadOnlySequence<byte>(first, 0, last, last.Memory.Length);
    }
}
