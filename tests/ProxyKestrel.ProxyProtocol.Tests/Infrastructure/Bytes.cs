using System.Buffers;
using System.Text;

namespace ProxyKestrel.ProxyProtocol.Tests.Infrastructure;

/// <summary>Small helpers to build test inputs by hand, independently of the codec's writers.</summary>
internal static class Bytes
{
    public static readonly byte[] Signature = [0x0D, 0x0A, 0x0D, 0x0A, 0x00, 0x0D, 0x0A, 0x51, 0x55, 0x49, 0x54, 0x0A];

    public static byte[] Ascii(string text) => Encoding.ASCII.GetBytes(text);

    public static byte[] Concat(params byte[][] parts) => parts.SelectMany(p => p).ToArray();

    /// <summary>A TLV: type, big-endian 16-bit length, value.</summary>
    public static byte[] Tlv(byte type, params byte[] value) =>
        Concat([type, (byte)(value.Length >> 8), (byte)value.Length], value);

    /// <summary>A v2 header: signature, version/command, family/transport, big-endian length of <paramref name="body"/>, body.</summary>
    public static byte[] V2(byte versionCommand, byte familyTransport, params byte[] body) =>
        Concat(Signature, [versionCommand, familyTransport, (byte)(body.Length >> 8), (byte)body.Length], body);

    /// <summary>A v2 header whose announced length is <paramref name="length"/> whatever the body.</summary>
    public static byte[] V2WithLength(byte versionCommand, byte familyTransport, int length, params byte[] body) =>
        Concat(Signature, [versionCommand, familyTransport, (byte)(length >> 8), (byte)length], body);

    /// <summary>The 12-byte INET block for 192.168.0.1:56324 → 192.168.0.11:443.</summary>
    public static readonly byte[] Inet4Block = [192, 168, 0, 1, 192, 168, 0, 11, 0xDC, 0x04, 0x01, 0xBB];

    /// <summary>The 36-byte INET6 block for [2001:db8::1]:1234 → [2001:db8::2]:443.</summary>
    public static readonly byte[] Inet6Block = Concat(
        [0x20, 0x01, 0x0D, 0xB8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1],
        [0x20, 0x01, 0x0D, 0xB8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2],
        [0x04, 0xD2, 0x01, 0xBB]);

    /// <summary>A 216-byte AF_UNIX block with NUL-padded paths.</summary>
    public static byte[] UnixBlock(string source, string destination)
    {
        byte[] block = new byte[216];
        Encoding.ASCII.GetBytes(source).CopyTo(block, 0);
        Encoding.ASCII.GetBytes(destination).CopyTo(block, 108);
        return block;
    }

    /// <summary>Sets the 4-byte CRC32C value at <paramref name="valueOffset"/> to the checksum of the header (computed with the field zeroed).</summary>
    public static byte[] WithCrc(byte[] header, int valueOffset)
    {
        byte[] copy = (byte[])header.Clone();
        copy.AsSpan(valueOffset, 4).Clear();
        uint crc = ReferenceCrc32C(copy);
        copy[valueOffset] = (byte)(crc >> 24);
        copy[valueOffset + 1] = (byte)(crc >> 16);
        copy[valueOffset + 2] = (byte)(crc >> 8);
        copy[valueOffset + 3] = (byte)crc;
        return copy;
    }

    /// <summary>A bitwise reference CRC32C (Castagnoli, reflected polynomial 0x82F63B78), independent of the codec.</summary>
    public static uint ReferenceCrc32C(ReadOnlySpan<byte> data)
    {
        uint crc = 0xFFFFFFFF;
        foreach (byte b in data)
        {
            crc ^= b;
            for (int k = 0; k < 8; k++)
            {
                crc = (crc & 1) != 0 ? (crc >> 1) ^ 0x82F63B78 : crc >> 1;
            }
        }

        return ~crc;
    }

    public static string Text(in ReadOnlySequence<byte> sequence) => Encoding.UTF8.GetString(sequence.ToArray());
}
