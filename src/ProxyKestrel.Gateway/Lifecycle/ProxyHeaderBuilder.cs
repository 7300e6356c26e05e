using System.Buffers;
using System.Net;
using System.Text;
using ProxyKestrel.Gateway.Configuration;

namespace ProxyKestrel.Gateway.Lifecycle;

/// <summary>Builds the header the gateway sends to a backend, for the real client and the address it dialled.</summary>
internal static class ProxyHeaderBuilder
{
    /// <summary>
    /// Enough for v1, or v2 with addresses, a unique id and CRC32C; the authority and passthrough TLVs, whose sizes
    /// come from the client, are added on top.
    /// </summary>
    private const int BaseSize = 512;

    /// <summary>A TLV's type and length bytes.</summary>
    private const int TlvOverhead = 3;

    /// <summary>Whether <c>Build</c> writes a unique-id TLV (and so reads its <c>uniqueId</c>) for this cluster.</summary>
    public static bool WritesUniqueId(ClusterProxyProtocol protocol) =>
        protocol.Version == ProxyProtocolVersion.V2 && (protocol.Tlvs & ProxyProtocolTlvSelection.UniqueId) != 0;

    /// <summary>Writes the header of a TCP connection into a buffer rented from the pool; the caller returns it.</summary>
    public static int Build(
        ClusterProxyProtocol protocol,
        EndPoint? client,
        EndPoint? dialled,
        in ProxyHeader upstream,
        bool hasUpstream,
        string? serverName,
        string uniqueId,
        out byte[] rented) =>
        Build(protocol, client, dialled, upstream, hasUpstream, serverName, uniqueId, ProxyTransport.Stream, out rented);

    /// <summary>
    /// Writes the header into a buffer rented from the pool; the caller returns it. <paramref name="transport"/>:
    /// <see cref="ProxyTransport.Datagram"/> for UDP (v2 only: <c>UDP4</c>/<c>UDP6</c>).
    /// </summary>
    public static int Build(
        ClusterProxyProtocol protocol,
        EndPoint? client,
        EndPoint? dialled,
        in ProxyHeader upstream,
        bool hasUpstream,
        string? serverName,
        string uniqueId,
        ProxyTransport transport,
        out byte[] rented)
    {
        int passthroughSize = hasUpstream && (protocol.Tlvs & ProxyProtocolTlvSelection.Passthrough) != 0
            ? (int)upstream.Tlvs.RawBytes.Length
            : 0;
        int authoritySize = 0;
        if (protocol.Version == ProxyProtocolVersion.V2 && (protocol.Tlvs & ProxyProtocolTlvSelection.Authority) != 0)
        {
            // The server name comes from the client's ClientHello (up to 64 KiB): the buffer is sized for it.
            authoritySize = TlvOverhead + (hasUpstream && upstream.TryGetAuthority(out ReadOnlySequence<byte> claimed)
                ? (int)claimed.Length
                : serverName is null ? 0 : Encoding.UTF8.GetByteCount(serverName));
        }

        rented = ArrayPool<byte>.Shared.Rent(BaseSize + passthroughSize + authoritySize);
        Span<byte> buffer = rented;
        var source = client as IPEndPoint;
        var destination = dialled as IPEndPoint;
        if (protocol.Version == ProxyProtocolVersion.V1)
        {
            return source is not null && destination is not null
                ? ProxyHeaderWriter.WriteV1(buffer, source, destination)
                : ProxyHeaderWriter.WriteV1Unknown(buffer);
        }

        ProxyV2HeaderWriter writer = source is not null && destination is not null
            ? ProxyV2HeaderWriter.Proxy(buffer, source.Address, source.Port, destination.Address, destination.Port, transport)
            : ProxyV2HeaderWriter.Local(buffer);
        bool passedAuthority = false;
        bool passedUniqueId = false;
        if (passthroughSize > 0)
        {
            foreach (ProxyTlv tlv in upstream.Tlvs)
            {
                if (tlv.Type is (byte)ProxyTlvType.Crc32C or (byte)ProxyTlvType.Noop)
                {
                    continue;
                }

                passedAuthority |= tlv.Type == (byte)ProxyTlvType.Authority;
                passedUniqueId |= tlv.Type == (byte)ProxyTlvType.UniqueId;
                writer.AddTlv(tlv.Type, tlv.Value.IsSingleSegment ? tlv.Value.FirstSpan : tlv.Value.ToArray());
            }
        }

        if ((protocol.Tlvs & ProxyProtocolTlvSelection.Authority) != 0 && !passedAuthority)
        {
            if (hasUpstream && upstream.TryGetAuthority(out ReadOnlySequence<byte> authority))
            {
                writer.AddAuthority(authority.IsSingleSegment ? authority.FirstSpan : authority.ToArray());
            }
            else if (serverName is not null)
            {
                writer.AddAuthority(serverName);
            }
        }

        if ((protocol.Tlvs & ProxyProtocolTlvSelection.UniqueId) != 0 && !passedUniqueId)
        {
            // Kestrel's connection ids are short ASCII; the spec allows up to 128 bytes.
            Span<byte> id = stackalloc byte[128];
            int n = Encoding.ASCII.GetBytes(uniqueId.AsSpan(0, Math.Min(uniqueId.Length, id.Length)), id);
            writer.AddUniqueId(id[..n]);
        }

        if ((protocol.Tlvs & ProxyProtocolTlvSelection.Crc32C) != 0)
        {
            writer.AddCrc32C();
        }

        return writer.Complete();
    }
}
