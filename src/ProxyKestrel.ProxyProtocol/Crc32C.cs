using System.Buffers;
using System.Buffers.Binary;
using System.Numerics;

namespace ProxyKestrel.ProxyProtocol;

/// <summary>
/// CRC32C (Castagnoli, RFC 4960 appendix B) over spans and sequences, built on <see cref="BitOperations.Crc32C(uint, ulong)"/>
/// (hardware accelerated where the CPU has it).
/// </summary>
internal static class Crc32C
{
    public const uint Seed = 0xFFFFFFFF;

    public static uint Finish(uint crc) => ~crc;

    public static uint Compute(ReadOnlySpan<byte> data) => Finish(Update(Seed, data));

    public static uint Update(uint crc, in ReadOnlySequence<byte> data)
    {
        if (data.IsSingleSegment)
        {
            return Update(crc, data.FirstSpan);
        }

        foreach (ReadOnlyMemory<byte> segment in data)
        {
            crc = Update(crc, segment.Span);
        }

        return crc;
    }

    public static uint Update(uint crc, ReadOnlySpan<byte> data)
    {
        while (data.Length >= sizeof(ulong))
        {
            crc = BitOperations.Crc32C(crc, BinaryPrimitives.ReadUInt64LittleEndian(data));
            data = data[sizeof(ulong)..];
        }

        foreach (byte b in data)
        {
            crc = BitOperations.Crc32C(crc, b);
        }

        return crc;
    }
}
