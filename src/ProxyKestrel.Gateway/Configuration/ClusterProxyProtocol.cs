using Yarp.ReverseProxy.Configuration;

namespace ProxyKestrel.Gateway.Configuration;

/// <summary>Which v2 TLVs the gateway adds to the header it sends.</summary>
[Flags]
public enum ProxyProtocolTlvSelection
{
    /// <summary>No TLV.</summary>
    None = 0,

    /// <summary>PP2_TYPE_AUTHORITY, taken from the authority an upstream proxy sent.</summary>
    Authority = 1,

    /// <summary>PP2_TYPE_UNIQUE_ID, a new id per connection (also in the gateway's logs).</summary>
    UniqueId = 2,

    /// <summary>PP2_TYPE_CRC32C over the whole header.</summary>
    Crc32C = 4,

    /// <summary>Forward the TLVs received from an upstream proxy (AcceptProxyProtocol), e.g. a cloud load balancer's ids.</summary>
    Passthrough = 8,
}

/// <summary>
/// The PROXY protocol a cluster's destinations expect, from the cluster's YARP <c>Metadata</c>: <c>ProxyProtocol</c>
/// (<c>v1</c>, <c>v2</c>, or absent for none) and <c>ProxyProtocol.Tlvs</c> (v2 only: <c>authority</c>,
/// <c>unique-id</c>, <c>crc32c</c>, <c>passthrough</c>, comma-separated).
/// </summary>
public sealed record ClusterProxyProtocol(ProxyProtocolVersion? Version, ProxyProtocolTlvSelection Tlvs)
{
    /// <summary>The metadata key naming the version.</summary>
    public const string VersionKey = "ProxyProtocol";

    /// <summary>The metadata key listing the TLVs.</summary>
    public const string TlvsKey = "ProxyProtocol.Tlvs";

    /// <summary>No header.</summary>
    public static ClusterProxyProtocol None { get; } = new(null, ProxyProtocolTlvSelection.None);

    /// <summary>Reads the cluster's metadata; problems go to <paramref name="errors"/>.</summary>
    internal static ClusterProxyProtocol Read(ClusterConfig cluster, List<string> errors)
    {
        ArgumentNullException.ThrowIfNull(cluster);
        ArgumentNullException.ThrowIfNull(errors);
        IReadOnlyDictionary<string, string>? metadata = cluster.Metadata;
        string at = $"ReverseProxy:Clusters:{cluster.ClusterId}:Metadata";
        ProxyProtocolVersion? version = null;
        if (metadata is not null && metadata.TryGetValue(VersionKey, out string? text) && !string.IsNullOrWhiteSpace(text))
        {
            switch (text.Trim().ToUpperInvariant())
            {
                case "V1":
                    version = ProxyProtocolVersion.V1;
                    break;
                case "V2":
                    version = ProxyProtocolVersion.V2;
                    break;
                default:
                    errors.Add($"{at}:{VersionKey}: '{text}' is not valid; allowed: v1, v2 (omit for no header).");
                    break;
            }
        }

        var tlvs = ProxyProtocolTlvSelection.None;
        if (metadata is not null && metadata.TryGetValue(TlvsKey, out string? list) && !string.IsNullOrWhiteSpace(list))
        {
            foreach (string item in list.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
            {
                switch (item.ToUpperInvariant())
                {
                    case "AUTHORITY":
                        tlvs |= ProxyProtocolTlvSelection.Authority;
                        break;
                    case "UNIQUE-ID":
                        tlvs |= ProxyProtocolTlvSelection.UniqueId;
                        break;
                    case "CRC32C":
                        tlvs |= ProxyProtocolTlvSelection.Crc32C;
                        break;
                    case "PASSTHROUGH":
                        tlvs |= ProxyProtocolTlvSelection.Passthrough;
                        break;
                    default:
                        errors.Add($"{at}:{TlvsKey}: '{item}' is not a TLV; allowed: authority, unique-id, crc32c, passthrough.");
                        break;
                }
            }

            if (version != ProxyProtocolVersion.V2)
            {
                errors.Add($"{at}:{TlvsKey}: TLVs need {VersionKey} = v2.");
            }
        }

        return new ClusterProxyProtocol(version, tlvs);
    }
}
