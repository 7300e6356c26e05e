using System.Net;

namespace ProxyKestrel.ProxyProtocol;

/// <summary>
/// A list of networks compiled from validated text (CIDR or single addresses, see
/// <see cref="ProxyProtocolOptionsValidation.TryParseNetwork"/>). An IPv4-mapped IPv6 address matches its IPv4 network.
/// </summary>
internal sealed class IPNetworkSet
{
    private readonly IPNetwork[] _networks;

    private IPNetworkSet(IPNetwork[] networks) => _networks = networks;

    /// <summary>Compiles <paramref name="networks"/>; entries that do not parse are skipped (validate them first).</summary>
    public static IPNetworkSet Create(IEnumerable<string> networks)
    {
        ArgumentNullException.ThrowIfNull(networks);
        var parsed = new List<IPNetwork>();
        foreach (string text in networks)
        {
            if (ProxyProtocolOptionsValidation.TryParseNetwork(text, out IPNetwork network))
            {
                parsed.Add(network);
            }
        }

        return new IPNetworkSet([.. parsed]);
    }

    /// <summary>True when <paramref name="address"/> lies in one of the networks.</summary>
    public bool Contains(IPAddress address)
    {
        ArgumentNullException.ThrowIfNull(address);
        IPAddress normalized = address.IsIPv4MappedToIPv6 ? address.MapToIPv4() : address;
        foreach (IPNetwork network in _networks)
        {
            if (network.Contains(normalized))
            {
                return true;
            }
        }

        return false;
    }
}
