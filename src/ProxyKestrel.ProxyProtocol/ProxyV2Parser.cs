using System.Buffers;
using System.Buffers.Binary;

namespace ProxyKestrel.ProxyProtocol;

/// <summary>The v2 binary header: signature, version/command, family/transport, length, addresses, TLVs.</summary>
internal static class ProxyV2Parser
{
    private const int MaxUniqueIdLength = 128;
    private const int SslFixedLength = 5;
    private const int TlvHeaderLength = 3;

    // buffer: the whole input; start: at least its first min(16, length) bytes, contiguous.
    public static ProxyParseStatus Parse(
        in ReadOnlySequence<byte> buffer,
        ReadOnlySpan<byte> start,
        in ProxyHeaderParserOptions options,
        out ProxyHeader header,
        out ProxyParseError error)
    {
        header = default;

        // Reject as early as each byte allows; the signature itself was checked by the dispatcher.
        if (start.Length <= 12)
        {
            return ProxyHeaderParser.More(out error);
        }

        byte versionCommand = start[12];
        if (versionCommand >> 4 != 2)
        {
            return ProxyHeaderParser.Fail(ProxyParseError.V2BadVersion, out error);
        }

        int command = versionCommand & 0x0F;
        if (command > (int)ProxyCommand.Proxy)
        {
            return ProxyHeaderParser.Fail(ProxyParseError.V2BadCommand, out error);
        }

        if (start.Length <= 13)
        {
            return ProxyHeaderParser.More(out error);
        }

        // Under PROXY only the seven family/transport bytes of spec 2.2 are valid, decided from byte 14. Under LOCAL the
        // family is ignored (spec 2.2: "discard the protocol block including the family which is ignored").
        byte familyTransport = start[13];
        bool local = command == (int)ProxyCommand.Local;
        if (!local && !IsDefinedFamilyTransport(familyTransport))
        {
            return ProxyHeaderParser.Fail(UndefinedFamilyTransportError(familyTransport), out error);
        }

        if (start.Length < ProxyHeaderParser.V2FixedLength)
        {
            return ProxyHeaderParser.More(out error);
        }

        int addressLength = ProxyHeaderParser.ReadLength(start);
        int total = ProxyHeaderParser.V2FixedLength + addressLength;
        if (total > ProxyHeaderParser.ClampMaxHeaderSize(options.MaxHeaderSize))
        {
            return ProxyHeaderParser.Fail(ProxyParseError.V2HeaderTooLarge, out error);
        }

        int family = familyTransport >> 4;
        int transport = familyTransport & 0x0F;
        int addressBlock = AddressBlockLength(family);
        if (addressLength < addressBlock && !local)
        {
            return ProxyHeaderParser.Fail(ProxyParseError.V2AddressBlockTooShort, out error);
        }

        // A LOCAL header whose family is undefined or whose length cannot hold that family's addresses has no
        // identifiable address block nor TLV area: the whole protocol block is skipped and reported as UNSPEC.
        bool opaque = local && (!IsDefinedFamilyTransport(familyTransport) || addressLength < addressBlock);
        if (opaque)
        {
            family = (int)ProxyAddressFamily.Unspecified;
            transport = (int)ProxyTransport.Unspecified;
            addressBlock = 0;
        }

        if (buffer.Length < total)
        {
            return ProxyHeaderParser.More(out error);
        }

        ReadOnlySequence<byte> raw = buffer.Slice(0, total);
        UInt128 source = 0, destination = 0;
        ushort sourcePort = 0, destinationPort = 0;
        if (family is (int)ProxyAddressFamily.InterNetwork or (int)ProxyAddressFamily.InterNetworkV6)
        {
            const int IpBlockEnd = ProxyHeaderParser.V2FixedLength + 36;
            scoped ReadOnlySpan<byte> block = buffer.FirstSpan;
            Span<byte> copy = stackalloc byte[IpBlockEnd];
            int needed = ProxyHeaderParser.V2FixedLength + addressBlock;
            if (block.Length < needed)
            {
                raw.Slice(0, needed).CopyTo(copy);
                block = copy;
            }

            block = block[ProxyHeaderParser.V2FixedLength..needed];
            if (family == (int)ProxyAddressFamily.InterNetwork)
            {
                source = BinaryPrimitives.ReadUInt32BigEndian(block);
                destination = BinaryPrimitives.ReadUInt32BigEndian(block[4..]);
                sourcePort = BinaryPrimitives.ReadUInt16BigEndian(block[8..]);
                destinationPort = BinaryPrimitives.ReadUInt16BigEndian(block[10..]);
            }
            else
            {
                source = BinaryPrimitives.ReadUInt128BigEndian(block);
                destination = BinaryPrimitives.ReadUInt128BigEndian(block[16..]);
                sourcePort = BinaryPrimitives.ReadUInt16BigEndian(block[32..]);
                destinationPort = BinaryPrimitives.ReadUInt16BigEndian(block[34..]);
            }
        }

        int tlvOffset = opaque ? total : ProxyHeaderParser.V2FixedLength + addressBlock;
        if (tlvOffset < total)
        {
            if (local && !SubTlvsFit(raw.Slice(tlvOffset)))
            {
                // LOCAL: a TLV area that does not split exactly into TLVs is discarded with the rest of the protocol
                // block; a well-formed one is verified below (CRC32C included) and exposed.
                tlvOffset = total;
            }
            else
            {
                ProxyParseError tlvError = ValidateTlvs(raw, tlvOffset);
                if (tlvError != ProxyParseError.None)
                {
                    return ProxyHeaderParser.Fail(tlvError, out error);
                }
            }
        }

        header = new ProxyHeader(
            ProxyProtocolVersion.V2,
            (ProxyCommand)command,
            (ProxyAddressFamily)family,
            (ProxyTransport)transport,
            total,
            source,
            destination,
            sourcePort,
            destinationPort,
            raw,
            tlvOffset < total ? tlvOffset : 0);
        error = ProxyParseError.None;
        return ProxyParseStatus.Complete;
    }

    /// <summary>The seven family/transport bytes spec 2.2 defines: UNSPEC, TCP4, UDP4, TCP6, UDP6, UNIX stream and dgram.</summary>
    internal static bool IsDefinedFamilyTransport(byte familyTransport) =>
        familyTransport is 0x00 or 0x11 or 0x12 or 0x21 or 0x22 or 0x31 or 0x32;

    // An undefined byte: a transport nibble beyond DGRAM under a family nibble of 0–3 is a bad transport; an unknown
    // family, or two valid nibbles that do not form a defined pair (0x01, 0x02, 0x10, 0x20, 0x30), a bad family.
    private static ProxyParseError UndefinedFamilyTransportError(byte familyTransport) =>
        familyTransport >> 4 <= (int)ProxyAddressFamily.Unix && (familyTransport & 0x0F) > (int)ProxyTransport.Datagram
            ? ProxyParseError.V2BadTransport
            : ProxyParseError.V2BadAddressFamily;

    private static int AddressBlockLength(int family) => family switch
    {
        (int)ProxyAddressFamily.InterNetwork => 12,
        (int)ProxyAddressFamily.InterNetworkV6 => 36,
        (int)ProxyAddressFamily.Unix => 2 * ProxyHeader.UnixAddressLength,
        _ => 0,
    };

    private static ProxyParseError ValidateTlvs(in ReadOnlySequence<byte> raw, int offset)
    {
        int total = (int)raw.Length;
        int crcValueOffset = -1;
        Span<byte> head = stackalloc byte[SslFixedLength];
        while (offset < total)
        {
            if (total - offset < TlvHeaderLength)
            {
                return ProxyParseError.V2TlvTruncated;
            }

            raw.Slice(offset, TlvHeaderLength).CopyTo(head);
            byte type = head[0];
            int length = (head[1] << 8) | head[2];
            int valueOffset = offset + TlvHeaderLength;
            if (length > total - valueOffset)
            {
                return ProxyParseError.V2TlvTruncated;
            }

            switch (type)
            {
                case (byte)ProxyTlvType.Crc32C:
                    if (length != 4 || crcValueOffset >= 0)
                    {
                        return ProxyParseError.V2BadCrc32CTlv;
                    }

                    crcValueOffset = valueOffset;
                    break;
                case (byte)ProxyTlvType.UniqueId:
                    if (length > MaxUniqueIdLength)
                    {
                        return ProxyParseError.V2UniqueIdTooLong;
                    }

                    break;
                case (byte)ProxyTlvType.Ssl:
                    if (length < SslFixedLength || !SubTlvsFit(raw.Slice(valueOffset + SslFixedLength, length - SslFixedLength)))
                    {
                        return ProxyParseError.V2BadSslTlv;
                    }

                    break;
            }

            offset = valueOffset + length;
        }

        if (crcValueOffset >= 0 && !Crc32CMatches(raw, crcValueOffset))
        {
            return ProxyParseError.V2Crc32CMismatch;
        }

        return ProxyParseError.None;
    }

    private static bool SubTlvsFit(in ReadOnlySequence<byte> region)
    {
        long total = region.Length;
        long offset = 0;
        Span<byte> head = stackalloc byte[TlvHeaderLength];
        while (offset < total)
        {
            if (total - offset < TlvHeaderLength)
            {
                return false;
            }

            region.Slice(offset, TlvHeaderLength).CopyTo(head);
            int length = (head[1] << 8) | head[2];
            offset += TlvHeaderLength + length;
            if (offset > total)
            {
                return false;
            }
        }

        return true;
    }

    private static bool Crc32CMatches(in ReadOnlySequence<byte> raw, int crcValueOffset)
    {
        Span<byte> sent = stackalloc byte[4];
        raw.Slice(crcValueOffset, 4).CopyTo(sent);
        uint expected = BinaryPrimitives.ReadUInt32BigEndian(sent);

        uint crc = Crc32C.Seed;
        crc = Crc32C.Update(crc, raw.Slice(0, crcValueOffset));
        crc = Crc32C.Update(crc, [0, 0, 0, 0]);
        crc = Crc32C.Update(crc, raw.Slice(crcValueOffset + 4));
        return Crc32C.Finish(crc) == expected;
    }
}
