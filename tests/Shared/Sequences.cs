using System.Buffers;

namespace ProxyKestrel.Testing;

/// <summary>Builds single- and multi-segment <see cref="ReadOnlySequence{T}"/> instances over copies of the input.</summary>
internal static class Sequences
{
    public static ReadOnlySequence<byte> Single(ReadOnlySpan<byte> data) => new(data.ToArray());

    /// <summary>Splits <paramref name="data"/> at the given (ascending, possibly repeated) positions; empty segments are kept.</summary>
    public static ReadOnlySequence<byte> Split(ReadOnlySpan<byte> data, params int[] positions)
    {
        if (positions.Length == 0)
        {
            return Single(data);
        }

        var first = new Segment(data[..positions[0]].ToArray(), 0);
        Segment last = first;
        for (int i = 0; i < positions.Length; i++)
        {
            int start = positions[i];
            int end = i + 1 < positions.Length ? positions[i + 1] : data.Length;
            last = last.Append(data[start..end].ToArray());
        }

        return new ReadOnlySequence<byte>(first, 0, last, last.Memory.Length);
    }

    /// <summary>One segment per byte.</summary>
    public static ReadOnlySequence<byte> Bytewise(ReadOnlySpan<byte> data)
    {
        if (data.Length <= 1)
        {
            return Single(data);
        }

        int[] positions = Enumerable.Range(1, data.Length - 1).ToArray();
        return Split(data, positions);
    }

    private sealed class Segment : ReadOnlySequenceSegment<byte>
    {
        public Segment(ReadOnlyMemory<byte> memory, long runningIndex)
        {
            Memory = memory;
            RunningIndex = runningIndex;
        }

        public Segment Append(ReadOnlyMemory<byte> memory)
        {
            var next = new Segment(memory, RunningIndex + Memory.Length);
            Next = next;
            return next;
        }
    }
}
