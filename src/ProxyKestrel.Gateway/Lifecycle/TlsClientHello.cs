using System.Buffers;
using System.Buffers.Binary;
using System.Text;

namespace ProxyKestrel.Gateway.Lifecycle;

/// <summary>What <see cref="TlsClientHello.TryReadServerName"/> found.</summary>
internal enum ClientHelloStatus
{
    /// <summary>A TLS ClientHello has started but its first record is not complete yet.</summary>
    NeedMoreData,

    /// <summary>The ClientHello names a server (SNI).</summary>
    Found,

    /// <summary>Not TLS, or a ClientHello without a server name in its first record.</summary>
    NotFound,
}

/// <summary>Reads the server name (SNI) and the ALPN list from the first record of a TLS ClientHello without consuming anything.</summary>
internal static class TlsClientHello
{
    private const int RecordHeaderLength = 5;
    private const int MaxRecordLength = 16 * 1024 + 2048;

    public static ClientHelloStatus TryReadServerName(in ReadOnlySequence<byte> input, out string? serverName) =>
        TryRead(input, readAlpn: false, out serverName, out _);

    /// <summary>
    /// Reads the server name (SNI) and, when <paramref name="readAlpn"/>, the offered application protocols (ALPN) of
    /// the first record of a TLS ClientHello. <see cref="ClientHelloStatus.Found"/> when the record is complete and names
    /// a server; <see cref="ClientHelloStatus.NotFound"/> when it names none (the ALPN list may still be there) or is not TLS.
    /// </summary>
    public static ClientHelloStatus TryRead(in ReadOnlySequence<byte> input, bool readAlpn, out string? serverName, out string[]? alpn)
    {
        serverName = null;
        alpn = null;
        if (input.IsEmpty)
        {
            return ClientHelloStatus.NeedMoreData;
        }

        Span<byte> head = stackalloc byte[RecordHeaderLength];
        int headLength = (int)Math.Min(input.Length, RecordHeaderLength);
        input.Slice(0, headLength).CopyTo(head);
        if (head[0] != 0x16 || (headLength >= 2 && head[1] != 0x03))
        {
            return ClientHelloStatus.NotFound;
        }

        if (headLength < RecordHeaderLength)
        {
            return ClientHelloStatus.NeedMoreData;
        }

        int recordLength = BinaryPrimitives.ReadUInt16BigEndian(head[3..]);
        if (recordLength == 0 || recordLength > MaxRecordLength)
        {
            return ClientHelloStatus.NotFound;
        }

        if (input.Length < RecordHeaderLength + recordLength)
        {
            return ClientHelloStatus.NeedMoreData;
        }

        ReadOnlySequence<byte> record = input.Slice(RecordHeaderLength, recordLength);
        if (record.IsSingleSegment)
        {
            return Parse(record.FirstSpan, readAlpn, out serverName, out alpn);
        }

        byte[] copy = ArrayPool<byte>.Shared.Rent(recordLength);
        try
        {
            record.CopyTo(copy);
            return Parse(copy.AsSpan(0, recordLength), readAlpn, out serverName, out alpn);
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(copy);
        }
    }

    private static ClientHelloStatus Parse(ReadOnlySpan<byte> handshake, bool readAlpn, out string? serverName, out string[]? alpn)
    {
        serverName = null;
        alpn = null;
        var reader = new SpanReader(handshake);
        if (!reader.TryByte(out byte type) || type != 0x01 || !reader.TrySkip(3) // handshake type ClientHello, length
            || !reader.TrySkip(2 + 32) // client_version, random
            || !reader.TrySkipVector(1) // session_id
            || !reader.TrySkipVector(2) // cipher_suites
            || !reader.TrySkipVector(1) // compression_methods
            || !reader.TryUInt16(out int extensionsLength))
        {
            return ClientHelloStatus.NotFound;
        }

        var extensions = new SpanReader(reader.Rest[..Math.Min(extensionsLength, reader.Rest.Length)]);
        while (extensions.TryUInt16(out int extensionType) && extensions.TryUInt16(out int length))
        {
            if (!extensions.TryTake(length, out ReadOnlySpan<byte> data))
            {
                break;
            }

            if (extensionType == 0x0000 && serverName is null)
            {
                serverName = ReadServerName(data);
                if (serverName is not null && !readAlpn)
                {
                    break;
                }
            }
            else if (extensionType == 0x0010 && readAlpn && alpn is null)
            {
                alpn = ReadProtocols(data);
            }
        }

        return serverName is null ? ClientHelloStatus.NotFound : ClientHelloStatus.Found;
    }

    /// <summary>The first host_name of a server_name extension, or null.</summary>
    private static string? ReadServerName(ReadOnlySpan<byte> data)
    {
        var names = new SpanReader(data);
        if (!names.TryUInt16(out int listLength) || !names.TryTake(listLength, out ReadOnlySpan<byte> list))
        {
            return null;
        }

        var entries = new SpanReader(list);
        while (entries.TryByte(out byte nameType) && entries.TryUInt16(out int nameLength) && entries.TryTake(nameLength, out ReadOnlySpan<byte> name))
        {
            if (nameType == 0 && name.Length > 0)
            {
                return Encoding.ASCII.GetString(name);
            }
        }

        return null;
    }

    /// <summary>The protocol names of an application_layer_protocol_negotiation extension (RFC 7301), or null if malformed.</summary>
    private static string[]? ReadProtocols(ReadOnlySpan<byte> data)
    {
        var outer = new SpanReader(data);
        if (!outer.TryUInt16(out int listLength) || !outer.TryTake(listLength, out ReadOnlySpan<byte> list))
        {
            return null;
        }

        var names = new List<string>();
        var entries = new SpanReader(list);
        while (entries.TryByte(out byte nameLength) && entries.TryTake(nameLength, out ReadOnlySpan<byte> name))
        {
            if (name.Length > 0)
            {
                names.Add(Encoding.ASCII.GetString(name));
            }
        }

        return [.. names];
    }

    private ref struct SpanReader(ReadOnlySpan<byte> data)
    {
        private ReadOnlySpan<byte> _data = data;

        public readonly ReadOnlySpan<byte> Rest => _data;

        public bool TryByte(out byte value)
        {
            value = 0;
            if (_data.IsEmpty)
            {
                return false;
            }

            value = _data[0];
            _data = _data[1..];
            return true;
        }

        public bool TryUInt16(out int value)
        {
            value = 0;
            if (_data.Length < 2)
            {
                return false;
            }

            value = BinaryPrimitives.ReadUInt16BigEndian(_data);
            _data = _data[2..];
            return true;
        }

        public bool TrySkip(int count)
        {
            if (_data.Length < count)
            {
                return false;
            }

            _data = _data[count..];
            return true;
        }

        public bool TryTake(int count, out ReadOnlySpan<byte> taken)
        {
            taken = default;
            if (_data.Length < count)
            {
                return false;
            }

            taken = _data[..count];
            _data = _data[count..];
            return true;
        }

        public bool TrySkipVector(int lengthBytes)
        {
            int length;
            if (lengthBytes == 1)
            {
                if (!TryByte(out byte b))
                {
                    return false;
                }

                length = b;
            }
            else if (!TryUInt16(out length))
            {
                return false;
            }

            return TrySkip(length);
        }
    }
}
