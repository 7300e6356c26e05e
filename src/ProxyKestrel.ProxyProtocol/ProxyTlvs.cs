using System.Buffers;

namespace ProxyKestrel.ProxyProtocol;

/// <summary>
/// The TLVs of a v2 header (or the sub-TLVs of an SSL TLV), read in place. The parser has already checked that every
/// TLV fits, so enumeration cannot fail. Enumerating allocates nothing.
/// </summary>
public readonly struct ProxyTlvs
{
    private readonly ReadOnlySequence<byte> _region;

    internal ProxyTlvs(ReadOnlySequence<byte> region) => _region = region;

    /// <summary>The raw bytes of all TLVs, in wire order.</summary>
    public ReadOnlySequence<byte> RawBytes => _region;

    /// <summary>True when there is no TLV.</summary>
    public bool IsEmpty => _region.IsEmpty;

    /// <summary>Returns an enumerator over the TLVs in wire order.</summary>
    public Enumerator GetEnumerator() => new(_region);

    /// <summary>Finds the first TLV of the given type.</summary>
    public bool TryGet(byte type, out ReadOnlySequence<byte> value)
    {
        foreach (ProxyTlv tlv in this)
        {
            if (tlv.Type == type)
            {
                value = tlv.Value;
                return true;
            }
        }

        value = default;
        return false;
    }

    /// <summary>Finds the first TLV of the given type.</summary>
    public bool TryGet(ProxyTlvType type, out ReadOnlySequence<byte> value) => TryGet((byte)type, out value);

    /// <summary>Counts the TLVs.</summary>
    public int Count()
    {
        int count = 0;
        foreach (ProxyTlv unused in this)
        {
            count++;
        }

        return count;
    }

    /// <summary>Enumerates TLVs in wire order.</summary>
    public struct Enumerator
    {
        private readonly ReadOnlySequence<byte> _region;
        private long _offset;
        private ProxyTlv _current;

        internal Enumerator(ReadOnlySequence<byte> region)
        {
            _region = region;
            _offset = 0;
            _current = default;
        }

        /// <summary>The current TLV.</summary>
        public readonly ProxyTlv Current => _current;

        /// <summary>Moves to the next TLV; false at the end (or if the rest cannot hold a whole TLV).</summary>
        public bool MoveNext()
        {
            long remaining = _region.Length - _offset;
            if (remaining < 3)
            {
                return false;
            }

            ReadOnlySequence<byte> rest = _region.Slice(_offset);
            Span<byte> head = stackalloc byte[3];
            rest.Slice(0, 3).CopyTo(head);
            int length = (head[1] << 8) | head[2];
            if (length > remaining - 3)
            {
                return false;
            }

            _current = new ProxyTlv(head[0], rest.Slice(3, length));
            _offset += 3 + length;
            return true;
        }
    }
}
