using System.Buffers;
using System.Buffers.Binary;
using System.Net;

namespace ProxyKestrel.ProxyProtocol;

/// <summary>
/// A parsed PROXY protocol header. Addresses and ports are decoded into the struct; TLVs and UNIX paths are read in
/// place from the buffer that was parsed, so they stay valid only while that buffer does (for a pipe: until
/// <c>AdvanceTo</c>). Copy what must outlive it.
/// </summary>
public readonly struct ProxyHeader
{
    /// <summary>Size of one AF_UNIX address in a v2 header.</summary>
    public const int UnixAddressLength = 108;

    private readonly UInt128 _source;
    private readonly UInt128 _destination;
    private readonly ReadOnlySequence<byte> _raw;
    private readonly int _tlvOffset;

    internal ProxyHeader(
        ProxyProtocolVersion version,
        ProxyCommand command,
        ProxyAddressFamily family,
        ProxyTransport transport,
        int length,
        UInt128 source,
        UInt128 destination,
        ushort sourcePort,
        ushort destinationPort,
        ReadOnlySequence<byte> raw,
        int tlvOffset)
    {
        Version = version;
        Command = command;
        AddressFamily = family;
        Transport = transport;
        Length = length;
        _source = source;
        _destination = destination;
        SourcePort = sourcePort;
        DestinationPort = destinationPort;
        _raw = raw;
        _tlvOffset = tlvOffset;
    }

    /// <summary>The header format that was received.</summary>
    public ProxyProtocolVersion Version { get; }

    /// <summary>
    /// <see cref="ProxyCommand.Proxy"/> for relayed connections (v1 lines, including <c>UNKNOWN</c>, are always PROXY);
    /// <see cref="ProxyCommand.Local"/> for v2 LOCAL (health checks).
    /// </summary>
    public ProxyCommand Command { get; }

    /// <summary>The announced address family. v1 <c>UNKNOWN</c> is reported as <see cref="ProxyAddressFamily.Unspecified"/>.</summary>
    public ProxyAddressFamily AddressFamily { get; }

    /// <summary>The announced transport. v1 TCP4/TCP6 is <see cref="ProxyTransport.Stream"/>.</summary>
    public ProxyTransport Transport { get; }

    /// <summary>The exact number of bytes of the header: consume these and leave the rest to the application.</summary>
    public int Length { get; }

    /// <summary>The source port (0 when there are no IP endpoints).</summary>
    public ushort SourcePort { get; }

    /// <summary>The destination port (0 when there are no IP endpoints).</summary>
    public ushort DestinationPort { get; }

    /// <summary>
    /// True when the header carries IP endpoints the receiver must use: a PROXY command with family INET or INET6
    /// and a specified transport. False for LOCAL, v1 UNKNOWN, AF_UNSPEC, UNSPEC transport and AF_UNIX: the
    /// receiver then keeps the real connection endpoints.
    /// </summary>
    public bool HasIPEndPoints =>
        Command == ProxyCommand.Proxy
        && AddressFamily is ProxyAddressFamily.InterNetwork or ProxyAddressFamily.InterNetworkV6
        && Transport != ProxyTransport.Unspecified;

    /// <summary>True for a PROXY command with AF_UNIX addresses and a specified transport.</summary>
    public bool HasUnixAddresses =>
        Command == ProxyCommand.Proxy && AddressFamily == ProxyAddressFamily.Unix && Transport != ProxyTransport.Unspecified;

    /// <summary>The v2 TLVs (empty for v1).</summary>
    public ProxyTlvs Tlvs =>
        new(_tlvOffset > 0 ? _raw.Slice(_tlvOffset) : default);

    /// <summary>The raw bytes of the header as received.</summary>
    public ReadOnlySequence<byte> RawBytes => _raw;

    /// <summary>Writes the source address bytes (4 for IPv4, 16 for IPv6) and returns how many were written.</summary>
    public int CopySourceAddress(Span<byte> destination) => CopyAddress(_source, destination);

    /// <summary>Writes the destination address bytes (4 for IPv4, 16 for IPv6) and returns how many were written.</summary>
    public int CopyDestinationAddress(Span<byte> destination) => CopyAddress(_destination, destination);

    /// <summary>The source address, or null when <see cref="HasIPEndPoints"/> is false. Allocates.</summary>
    public IPAddress? GetSourceAddress() => ToAddress(_source);

    /// <summary>The destination address, or null when <see cref="HasIPEndPoints"/> is false. Allocates.</summary>
    public IPAddress? GetDestinationAddress() => ToAddress(_destination);

    /// <summary>The source endpoint, or null when <see cref="HasIPEndPoints"/> is false. Allocates.</summary>
    public IPEndPoint? GetSourceEndPoint() => ToAddress(_source) is { } a ? new IPEndPoint(a, SourcePort) : null;

    /// <summary>The destination endpoint, or null when <see cref="HasIPEndPoints"/> is false. Allocates.</summary>
    public IPEndPoint? GetDestinationEndPoint() => ToAddress(_destination) is { } a ? new IPEndPoint(a, DestinationPort) : null;

    /// <summary>The AF_UNIX source path up to its first NUL byte (empty unless the family is UNIX).</summary>
    public ReadOnlySequence<byte> UnixSourcePath => UnixPath(ProxyHeaderParser.V2FixedLength);

    /// <summary>The AF_UNIX destination path up to its first NUL byte (empty unless the family is UNIX).</summary>
    public ReadOnlySequence<byte> UnixDestinationPath => UnixPath(ProxyHeaderParser.V2FixedLength + UnixAddressLength);

    /// <summary>PP2_TYPE_ALPN.</summary>
    public bool TryGetAlpn(out ReadOnlySequence<byte> value) => Tlvs.TryGet(ProxyTlvType.Alpn, out value);

    /// <summary>PP2_TYPE_AUTHORITY (UTF-8 host name, usually the TLS SNI).</summary>
    public bool TryGetAuthority(out ReadOnlySequence<byte> value) => Tlvs.TryGet(ProxyTlvType.Authority, out value);

    /// <summary>PP2_TYPE_UNIQUE_ID (at most 128 bytes, checked by the parser).</summary>
    public bool TryGetUniqueId(out ReadOnlySequence<byte> value) => Tlvs.TryGet(ProxyTlvType.UniqueId, out value);

    /// <summary>PP2_TYPE_NETNS (US-ASCII namespace name).</summary>
    public bool TryGetNetworkNamespace(out ReadOnlySequence<byte> value) => Tlvs.TryGet(ProxyTlvType.NetworkNamespace, out value);

    /// <summary>PP2_TYPE_CRC32C: the checksum that was sent (already verified by the parser).</summary>
    public bool TryGetCrc32C(out uint checksum)
    {
        if (Tlvs.TryGet(ProxyTlvType.Crc32C, out ReadOnlySequence<byte> value) && value.Length == 4)
        {
            Span<byte> bytes = stackalloc byte[4];
            value.CopyTo(bytes);
            checksum = BinaryPrimitives.ReadUInt32BigEndian(bytes);
            return true;
        }

        checksum = 0;
        return false;
    }

    /// <summary>PP2_TYPE_SSL with its client flags, verify result and sub-TLVs.</summary>
    public bool TryGetSsl(out ProxySslTlv ssl)
    {
        if (Tlvs.TryGet(ProxyTlvType.Ssl, out ReadOnlySequence<byte> value))
        {
            return ProxySslTlv.TryRead(value, out ssl);
        }

        ssl = default;
        return false;
    }

    /// <summary>
    /// AWS (NLB / PrivateLink): TLV 0xEA with subtype 0x01, the VPC endpoint id in US-ASCII (for example
    /// <c>vpce-08d2bf15fac5001c9</c>). False when absent or of another subtype.
    /// </summary>
    public bool TryGetAwsVpcEndpointId(out ReadOnlySequence<byte> value)
    {
        foreach (ProxyTlv tlv in Tlvs)
        {
            if (tlv.Type == (byte)ProxyTlvType.Aws && tlv.Value.Length >= 1 && tlv.Value.FirstSpan[0] == 0x01)
            {
                value = tlv.Value.Slice(1);
                return true;
            }
        }

        value = default;
        return false;
    }

    /// <summary>
    /// Azure Private Link: TLV 0xEE with subtype 0x01 followed by the LinkID, a little-endian uint32. False when
    /// absent, of another subtype, or not exactly 5 bytes.
    /// </summary>
    public bool TryGetAzurePrivateLinkId(out uint linkId)
    {
        Span<byte> bytes = stackalloc byte[5];
        foreach (ProxyTlv tlv in Tlvs)
        {
            if (tlv.Type == (byte)ProxyTlvType.Azure && tlv.Value.Length == 5)
            {
                tlv.Value.CopyTo(bytes);
                if (bytes[0] == 0x01)
                {
                    linkId = BinaryPrimitives.ReadUInt32LittleEndian(bytes[1..]);
                    return true;
                }
            }
        }

        linkId = 0;
        return false;
    }

    /// <summary>
    /// Google Cloud Private Service Connect: TLV 0xE0 holding the PSC connection id, a big-endian uint64. False when
    /// absent or not exactly 8 bytes.
    /// </summary>
    public bool TryGetGcpPscConnectionId(out ulong connectionId)
    {
        Span<byte> bytes = stackalloc byte[8];
        foreach (ProxyTlv tlv in Tlvs)
        {
            if (tlv.Type == (byte)ProxyTlvType.GcpPscConnectionId && tlv.Value.Length == 8)
            {
                tlv.Value.CopyTo(bytes);
                connectionId = BinaryPrimitives.ReadUInt64BigEndian(bytes);
                return true;
            }
        }

        connectionId = 0;
        return false;
    }

    /// <inheritdoc />
    public override string ToString()
    {
        if (HasIPEndPoints)
        {
            return $"PROXY v{(int)Version} {Transport} {GetSourceEndPoint()} -> {GetDestinationEndPoint()}";
        }

        return $"PROXY v{(int)Version} {Command} {AddressFamily}/{Transport}";
    }

    private int CopyAddress(UInt128 value, Span<byte> destination)
    {
        switch (AddressFamily)
        {
            case ProxyAddressFamily.InterNetwork:
                BinaryPrimitives.WriteUInt32BigEndian(destination, (uint)value);
                return 4;
            case ProxyAddressFamily.InterNetworkV6:
                BinaryPrimitives.WriteUInt128BigEndian(destination, value);
                return 16;
            default:
                return 0;
        }
    }

    private IPAddress? ToAddress(UInt128 value)
    {
        if (!HasIPEndPoints)
        {
            return null;
        }

        Span<byte> bytes = stackalloc byte[16];
        int length = CopyAddress(value, bytes);
        return new IPAddress(bytes[..length]);
    }

    private ReadOnlySequence<byte> UnixPath(int offset)
    {
        if (AddressFamily != ProxyAddressFamily.Unix || _raw.Length < offset + UnixAddressLength)
        {
            return default;
        }

        ReadOnlySequence<byte> field = _raw.Slice(offset, UnixAddressLength);
        SequencePosition? nul = field.PositionOf((byte)0);
        return nul is { } end ? field.Slice(0, end) : field;
    }
}
