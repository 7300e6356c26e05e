using System.Buffers;

namespace ProxyKestrel.Gateway.Tests.Mail;

/// <summary>Single-segment and one-byte-per-segment <see cref="ReadOnlySequence{T}"/> over a copy of the bytes.</summary>
internal static class MailSequences
{
    public static ReadOnlySequence<byte> Create(ReadOnlySpan<byte> data, bool bytewise)
    {
        if (!bytewise || data.Length <= 1)
        {
            return new ReadOnlySequence<byte>(data.ToArray());
        }

        var first = new Segment(data[..1].ToArray(), 0);
        Segment last = first;
        for (int i = 1; i < data.Length; i++)
        {
            last = last.Append(data.Slice(i, 1).ToArray());
        }

        return new ReadOnlySequence<byte>(first, 0, last, 1);
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
