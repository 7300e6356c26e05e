using System.Buffers;
using System.Net;
using System.Text;
using ProxyKestrel.Gateway.Configuration;

namespace ProxyKestrel.Gateway.Routing;

/// <summary>Builds the header the gateway sends to a backend, for the real client and the address it dialled.</summary>
internal static class ProxyHeaderBuilder
{
    /// <summary>Enough for v2 with the TLVs the gateway adds; passthrough TLVs are added on top.</summary>
    private const int BaseSize = 512;

    /// <summary>Writes the header into a buffer rented from the pool; the caller returns it.</summary>
    public static int Build(
        ClusterProxyProtocol protocol,
        EndPoint? client,
        EndPoint? dialled,
        in ProxyHeader upstream,
        bool hasUpstream,
        string? serverName,
        string uniqueId,
        out byte[] rented)
    {
        int passthroughSize = hasUpstream && (protocol.Tlvs & ProxyProtocolTlvSelection.Passthrough) != 0
            ? (int)upstream.Tlvs.RawBytes.Length
            : 0;
        rented = ArrayPool<byte>.Shared.Rent(BaseSize + passthroughSize);
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
            ? ProxyV2HeaderWriter.Proxy(buffer, source.Address, source.Port, destination.Address, destination.Port)
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
            Span<byte> id = stackalloc byte[64];
            int n = Encoding.ASCII.GetBytes(uniqueId, id);
            writer.AddUniqueId(id[..n]);
        }

        if ((protocol.Tlvs & ProxyProtocolTlvSelection.Crc32C) != 0)
        {
            writer.AddCrc32C();
        }

        return writer.Complete();
    }
}
