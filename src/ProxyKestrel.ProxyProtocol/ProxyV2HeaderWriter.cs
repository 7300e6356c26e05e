using System.Buffers;
using System.Buffers.Binary;
using System.Diagnostics.CodeAnalysis;
using System.Net;
using System.Text;

namespace ProxyKestrel.ProxyProtocol;

// Over 400 lines on purpose: one writer per address family and TLV kind of the v2 format, each a few lines, kept
// next to each other so the byte layout can be checked against the spec in one read.

/// <summary>
/// Builds a v2 header in place: start it with <see cref="Proxy(Span{byte}, IPAddress, int, IPAddress, int, ProxyTransport)"/>
/// or <see cref="Local(Span{byte})"/>, add TLVs, then call <see cref="Complete"/>, which fills in the length and,
/// when <see cref="AddCrc32C"/> was called, the checksum. Nothing is allocated.
/// </summary>
/// <example>
/// <code>
/// Span&lt;byte&gt; buffer = stackalloc byte[256];
/// var writer = ProxyV2HeaderWriter.Proxy(buffer, client.Address, client.Port, local.Address, local.Port);
/// writer.AddAuthority("example.com");
/// writer.AddCrc32C();
/// int length = writer.Complete();
/// </code>
/// </example>
public ref struct ProxyV2HeaderWriter
{
    private const int MaxUniqueIdLength = 128;
    private const string Rs0026Justification =
        "The two Proxy overloads differ in their first parameter (Span<byte> or IBufferWriter<byte>), so no call can bind to "
        + "both; the optional transport is the same last parameter of each.";

    private readonly Span<byte> _buffer;
    private readonly IBufferWriter<byte>? _output;
    private int _position;
    private int _crcOffset;
    private int _sslStart;
    private bool _completed;

    private ProxyV2HeaderWriter(Span<byte> buffer, IBufferWriter<byte>? output)
    {
        _buffer = buffer;
        _output = output;
        _position = 0;
        _crcOffset = -1;
        _sslStart = -1;
        _completed = false;
    }

    /// <summary>The number of bytes written so far.</summary>
    public readonly int Length => _position;

    /// <summary>
    /// Starts a PROXY header for two IP endpoints. Two IPv4 addresses (IPv4-mapped IPv6 counts as IPv4) give
    /// AF_INET; otherwise AF_INET6 with an IPv4 address mapped into IPv6.
    /// </summary>
    [SuppressMessage("ApiDesign", "RS0026:Do not add multiple public overloads with optional parameters", Justification = Rs0026Justification)]
    public static ProxyV2HeaderWriter Proxy(
        Span<byte> destination,
        IPAddress sourceAddress,
        int sourcePort,
        IPAddress destinationAddress,
        int destinationPort,
        ProxyTransport transport = ProxyTransport.Stream)
    {
        var writer = new ProxyV2HeaderWriter(destination, null);
        writer.WriteAddresses(sourceAddress, sourcePort, destinationAddress, destinationPort, transport);
        return writer;
    }

    /// <summary>Starts a PROXY header for two IP endpoints in <paramref name="output"/>; <see cref="Complete"/> advances it.</summary>
    /// <param name="output">Where the header goes.</param>
    /// <param name="sizeHint">The most bytes the header (with its TLVs) will take.</param>
    /// <param name="sourceAddress">The client address.</param>
    /// <param name="sourcePort">The client port.</param>
    /// <param name="destinationAddress">The address the client connected to.</param>
    /// <param name="destinationPort">The port the client connected to.</param>
    /// <param name="transport">Stream (TCP) or datagram (UDP).</param>
    [SuppressMessage("ApiDesign", "RS0026:Do not add multiple public overloads with optional parameters", Justification = Rs0026Justification)]
    public static ProxyV2HeaderWriter Proxy(
        IBufferWriter<byte> output,
        int sizeHint,
        IPAddress sourceAddress,
        int sourcePort,
        IPAddress destinationAddress,
        int destinationPort,
        ProxyTransport transport = ProxyTransport.Stream)
    {
        ArgumentNullException.ThrowIfNull(output);
        var writer = new ProxyV2HeaderWriter(output.GetSpan(Math.Max(sizeHint, ProxyHeaderParser.V2FixedLength + 36)), output);
        writer.WriteAddresses(sourceAddress, sourcePort, destinationAddress, destinationPort, transport);
        return writer;
    }

    /// <summary>
    /// Starts a PROXY header for two AF_UNIX paths (at most 108 bytes each, NUL-padded) over a stream or datagram
    /// transport.
    /// </summary>
    public static ProxyV2HeaderWriter ProxyUnix(
        Span<byte> destination,
        ReadOnlySpan<byte> sourcePath,
        ReadOnlySpan<byte> destinationPath,
        ProxyTransport transport = ProxyTransport.Stream)
    {
        if (sourcePath.Length > ProxyHeader.UnixAddressLength || destinationPath.Length > ProxyHeader.UnixAddressLength)
        {
            throw new ArgumentException($"A UNIX path holds at most {ProxyHeader.UnixAddressLength} bytes.");
        }

        if (transport is not (ProxyTransport.Stream or ProxyTransport.Datagram))
        {
            // 0x30 is not one of the family/transport values of spec 2.2: it "must not be emitted".
            throw new ArgumentOutOfRangeException(nameof(transport), transport, "UNIX paths need a stream or datagram transport.");
        }

        var writer = new ProxyV2HeaderWriter(destination, null);
        writer.WriteFixed(ProxyCommand.Proxy, ProxyAddressFamily.Unix, transport);
        Span<byte> block = writer.Reserve(2 * ProxyHeader.UnixAddressLength);
        block.Clear();
        sourcePath.CopyTo(block);
        destinationPath.CopyTo(block[ProxyHeader.UnixAddressLength..]);
        return writer;
    }

    /// <summary>Starts a LOCAL header (AF_UNSPEC, no addresses), as sent with health checks.</summary>
    public static ProxyV2HeaderWriter Local(Span<byte> destination)
    {
        var writer = new ProxyV2HeaderWriter(destination, null);
        writer.WriteFixed(ProxyCommand.Local, ProxyAddressFamily.Unspecified, ProxyTransport.Unspecified);
        return writer;
    }

    /// <summary>Starts a LOCAL header in <paramref name="output"/>; <see cref="Complete"/> advances it.</summary>
    public static ProxyV2HeaderWriter Local(IBufferWriter<byte> output, int sizeHint)
    {
        ArgumentNullException.ThrowIfNull(output);
        var writer = new ProxyV2HeaderWriter(output.GetSpan(Math.Max(sizeHint, ProxyHeaderParser.V2FixedLength)), output);
        writer.WriteFixed(ProxyCommand.Local, ProxyAddressFamily.Unspecified, ProxyTransport.Unspecified);
        return writer;
    }

    /// <summary>Adds a TLV of any type. Not allowed while an SSL TLV is open (use <see cref="AddSslSubTlv(ProxyTlvType, ReadOnlySpan{byte})"/>).</summary>
    public void AddTlv(byte type, scoped ReadOnlySpan<byte> value)
    {
        ThrowIfSslOpen();
        WriteTlv(type, value);
    }

    private void WriteTlv(byte type, scoped ReadOnlySpan<byte> value)
    {
        if (value.Length > ushort.MaxValue)
        {
            throw new ArgumentException("A TLV value holds at most 65535 bytes.", nameof(value));
        }

        Span<byte> tlv = Reserve(3 + value.Length);
        tlv[0] = type;
        BinaryPrimitives.WriteUInt16BigEndian(tlv[1..], (ushort)value.Length);
        value.CopyTo(tlv[3..]);
    }

    /// <summary>Adds a TLV of a known type.</summary>
    public void AddTlv(ProxyTlvType type, scoped ReadOnlySpan<byte> value) => AddTlv((byte)type, value);

    /// <summary>Adds PP2_TYPE_ALPN.</summary>
    public void AddAlpn(scoped ReadOnlySpan<byte> protocol) => AddTlv(ProxyTlvType.Alpn, protocol);

    /// <summary>Adds PP2_TYPE_AUTHORITY (UTF-8).</summary>
    public void AddAuthority(scoped ReadOnlySpan<byte> hostName) => AddTlv(ProxyTlvType.Authority, hostName);

    /// <summary>Adds PP2_TYPE_AUTHORITY, encoding <paramref name="hostName"/> as UTF-8 in place.</summary>
    public void AddAuthority(string hostName)
    {
        ThrowIfSslOpen();
        AddUtf8(ProxyTlvType.Authority, hostName);
    }

    /// <summary>Adds PP2_TYPE_UNIQUE_ID (at most 128 bytes).</summary>
    public void AddUniqueId(scoped ReadOnlySpan<byte> id)
    {
        if (id.Length > MaxUniqueIdLength)
        {
            throw new ArgumentException($"A unique id holds at most {MaxUniqueIdLength} bytes.", nameof(id));
        }

        AddTlv(ProxyTlvType.UniqueId, id);
    }

    /// <summary>Adds PP2_TYPE_NETNS (US-ASCII namespace name).</summary>
    public void AddNetworkNamespace(scoped ReadOnlySpan<byte> name) => AddTlv(ProxyTlvType.NetworkNamespace, name);

    /// <summary>Adds a PP2_TYPE_NOOP of <paramref name="valueLength"/> zero bytes (padding).</summary>
    public void AddNoop(int valueLength)
    {
        ThrowIfSslOpen();
        ArgumentOutOfRangeException.ThrowIfNegative(valueLength);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(valueLength, ushort.MaxValue);
        Span<byte> tlv = Reserve(3 + valueLength);
        tlv[0] = (byte)ProxyTlvType.Noop;
        BinaryPrimitives.WriteUInt16BigEndian(tlv[1..], (ushort)valueLength);
        tlv[3..].Clear();
    }

    /// <summary>Adds the AWS VPC endpoint id TLV (0xEA, subtype 0x01).</summary>
    public void AddAwsVpcEndpointId(scoped ReadOnlySpan<byte> endpointId)
    {
        ThrowIfSslOpen();
        if (endpointId.Length > ushort.MaxValue - 1)
        {
            throw new ArgumentException("A TLV value holds at most 65535 bytes, subtype included.", nameof(endpointId));
        }

        Span<byte> tlv = Reserve(4 + endpointId.Length);
        tlv[0] = (byte)ProxyTlvType.Aws;
        BinaryPrimitives.WriteUInt16BigEndian(tlv[1..], (ushort)(1 + endpointId.Length));
        tlv[3] = 0x01;
        endpointId.CopyTo(tlv[4..]);
    }

    /// <summary>Adds the Azure Private Link LinkID TLV (0xEE, subtype 0x01, little-endian uint32).</summary>
    public void AddAzurePrivateLinkId(uint linkId)
    {
        Span<byte> value = stackalloc byte[5];
        value[0] = 0x01;
        BinaryPrimitives.WriteUInt32LittleEndian(value[1..], linkId);
        AddTlv(ProxyTlvType.Azure, value);
    }

    /// <summary>Adds the Google Cloud PSC connection id TLV (0xE0, big-endian uint64).</summary>
    public void AddGcpPscConnectionId(ulong connectionId)
    {
        Span<byte> value = stackalloc byte[8];
        BinaryPrimitives.WriteUInt64BigEndian(value, connectionId);
        AddTlv(ProxyTlvType.GcpPscConnectionId, value);
    }

    /// <summary>Reserves a PP2_TYPE_CRC32C TLV; <see cref="Complete"/> computes the checksum over the whole header.</summary>
    public void AddCrc32C()
    {
        ThrowIfSslOpen();
        if (_crcOffset >= 0)
        {
            throw new InvalidOperationException("The header already has a CRC32C TLV.");
        }

        Span<byte> tlv = Reserve(7);
        tlv[0] = (byte)ProxyTlvType.Crc32C;
        tlv[1] = 0;
        tlv[2] = 4;
        tlv[3..].Clear();
        _crcOffset = _position - 4;
    }

    /// <summary>Opens a PP2_TYPE_SSL TLV; add sub-TLVs with <see cref="AddSslSubTlv(ProxyTlvType, ReadOnlySpan{byte})"/>, then <see cref="EndSsl"/>.</summary>
    public void BeginSsl(ProxySslClient client, uint verify)
    {
        if (_sslStart >= 0)
        {
            throw new InvalidOperationException("An SSL TLV is already open.");
        }

        _sslStart = _position;
        Span<byte> head = Reserve(8);
        head[0] = (byte)ProxyTlvType.Ssl;
        head[3] = (byte)client;
        BinaryPrimitives.WriteUInt32BigEndian(head[4..], verify);
    }

    /// <summary>Adds a sub-TLV (VERSION, CN, CIPHER, ...) to the open SSL TLV.</summary>
    public void AddSslSubTlv(ProxyTlvType subType, scoped ReadOnlySpan<byte> value)
    {
        if (_sslStart < 0)
        {
            throw new InvalidOperationException("Call BeginSsl first.");
        }

        WriteTlv((byte)subType, value);
    }

    /// <summary>Adds a sub-TLV to the open SSL TLV, encoding <paramref name="value"/> as UTF-8 in place.</summary>
    public void AddSslSubTlv(ProxyTlvType subType, string value)
    {
        if (_sslStart < 0)
        {
            throw new InvalidOperationException("Call BeginSsl first.");
        }

        AddUtf8(subType, value);
    }

    /// <summary>Closes the SSL TLV opened by <see cref="BeginSsl"/>.</summary>
    public void EndSsl()
    {
        if (_sslStart < 0)
        {
            throw new InvalidOperationException("No SSL TLV is open.");
        }

        int valueLength = _position - _sslStart - 3;
        if (valueLength > ushort.MaxValue)
        {
            throw new InvalidOperationException("The SSL TLV exceeds 65535 bytes.");
        }

        BinaryPrimitives.WriteUInt16BigEndian(_buffer[(_sslStart + 1)..], (ushort)valueLength);
        _sslStart = -1;
    }

    /// <summary>Fills in the length (and checksum) and returns the header's size; advances the buffer writer if any.</summary>
    public int Complete()
    {
        if (_completed)
        {
            throw new InvalidOperationException("The header is already complete.");
        }

        if (_sslStart >= 0)
        {
            throw new InvalidOperationException("Call EndSsl before Complete.");
        }

        int length = _position - ProxyHeaderParser.V2FixedLength;
        if (length > ushort.MaxValue)
        {
            throw new InvalidOperationException("A v2 header holds at most 65535 bytes after its fixed part.");
        }

        BinaryPrimitives.WriteUInt16BigEndian(_buffer[14..], (ushort)length);
        if (_crcOffset >= 0)
        {
            uint crc = Crc32C.Compute(_buffer[.._position]);
            BinaryPrimitives.WriteUInt32BigEndian(_buffer[_crcOffset..], crc);
        }

        _completed = true;
        _output?.Advance(_position);
        return _position;
    }

    private void WriteAddresses(IPAddress sourceAddress, int sourcePort, IPAddress destinationAddress, int destinationPort, ProxyTransport transport)
    {
        ArgumentNullException.ThrowIfNull(sourceAddress);
        ArgumentNullException.ThrowIfNull(destinationAddress);
        ArgumentOutOfRangeException.ThrowIfNegative(sourcePort);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(sourcePort, ushort.MaxValue);
        ArgumentOutOfRangeException.ThrowIfNegative(destinationPort);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(destinationPort, ushort.MaxValue);
        if (transport is not (ProxyTransport.Stream or ProxyTransport.Datagram))
        {
            throw new ArgumentOutOfRangeException(nameof(transport), transport, "IP endpoints need a stream or datagram transport.");
        }

        ProxyAddressFamily family = ProxyAddressEncoding.ChooseFamily(sourceAddress, destinationAddress);
        WriteFixed(ProxyCommand.Proxy, family, transport);
        int size = family == ProxyAddressFamily.InterNetwork ? 4 : 16;
        Span<byte> block = Reserve((2 * size) + 4);
        ProxyAddressEncoding.WriteBytes(sourceAddress, family, block);
        ProxyAddressEncoding.WriteBytes(destinationAddress, family, block[size..]);
        BinaryPrimitives.WriteUInt16BigEndian(block[(2 * size)..], (ushort)sourcePort);
        BinaryPrimitives.WriteUInt16BigEndian(block[((2 * size) + 2)..], (ushort)destinationPort);
    }

    private void WriteFixed(ProxyCommand command, ProxyAddressFamily family, ProxyTransport transport)
    {
        Span<byte> head = Reserve(ProxyHeaderParser.V2FixedLength);
        ProxyHeaderParser.V2Signature.CopyTo(head);
        head[12] = (byte)(0x20 | (int)command);
        head[13] = (byte)(((int)family << 4) | (int)transport);
        head[14] = 0;
        head[15] = 0;
    }

    private void AddUtf8(ProxyTlvType type, string value)
    {
        ArgumentNullException.ThrowIfNull(value);
        Span<byte> free = _buffer[_position..];
        if (free.Length < 3)
        {
            ThrowTooSmall();
        }

        if (!Encoding.UTF8.TryGetBytes(value, free[3..], out int written))
        {
            ThrowTooSmall();
        }

        if (written > ushort.MaxValue)
        {
            throw new ArgumentException("A TLV value holds at most 65535 bytes.", nameof(value));
        }

        free[0] = (byte)type;
        BinaryPrimitives.WriteUInt16BigEndian(free[1..], (ushort)written);
        _position += 3 + written;
    }

    private readonly void ThrowIfSslOpen()
    {
        if (_sslStart >= 0)
        {
            throw new InvalidOperationException("An SSL TLV is open: add sub-TLVs with AddSslSubTlv, or call EndSsl first.");
        }
    }

    private Span<byte> Reserve(int count)
    {
        if (_completed)
        {
            throw new InvalidOperationException("The header is already complete.");
        }

        if (_buffer.Length - _position < count)
        {
            ThrowTooSmall();
        }

        Span<byte> span = _buffer.Slice(_position, count);
        _position += count;
        return span;
    }

    private static void ThrowTooSmall() =>
        throw new ArgumentException("The destination buffer is too small for this header.");
}
