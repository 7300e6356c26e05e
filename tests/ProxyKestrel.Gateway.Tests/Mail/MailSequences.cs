using System.Buffers;
using ProxyKestrel.Gateway.Tests.Infrastructure;

namespace ProxyKestrel.Gateway.Tests.Mail;

/// <summary>Single-segment and one-byte-per-segment <see cref="ReadOnlySequence{T}"/> over a copy of the bytes.</summary>
internal static class MailSequences
{
    public static ReadOnlySequence<byte> Create(ReadOnlySpan<byte> data, bool bytewise) =>
        bytewise && data.Length > 1 ? Segments.OneBytePer(data.ToArray()) : new ReadOnlySequence<byte>(data.ToArray());
}
