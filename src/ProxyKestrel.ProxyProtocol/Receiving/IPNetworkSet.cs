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
        Span<byte> bytes = stackalloc byte[16];
        return address.TryWriteBytes(bytes, out int length) && Contains(bytes[..length]);
    }

    /// <summary>
    /// True when the address given by its network-order bytes (4 for IPv4, 16 for IPv6) lies in one of the networks;
    /// an IPv4-mapped IPv6 address is compared as IPv4. Creates no <see cref="IPAddress"/>; other lengths match nothing.
    /// </summary>
    public bool Contains(ReadOnlySpan<byte> addressBytes)
    {
        if (addressBytes.Length == 16 && IsIPv4Mapped(addressBytes))
        {
            addressBytes = addressBytes[12..];
        }

        if (addressBytes.Length is not (4 or 16))
        {
            return false;
        }

        Span<byte> baseBytes = stackalloc byte[16];
        foreach (IPNetwork network in _networks)
        {
            if (network.BaseAddress.TryWriteBytes(baseBytes, out int length)
                && length == addressBytes.Length
                && PrefixMatches(addressBytes, baseBytes[..length], network.PrefixLength))
            {
                return true;
            }
        }

        return false;
    }

    private static bool IsIPv4Mapped(ReadOnlySpan<byte> address) =>
        address[..10].IndexOfAnyExcept((byte)0) < 0 && address[10] == 0xFF && address[11] == 0xFF;

    private static bool PrefixMatches(ReadOnlySpan<byte> address, ReadOnlySpan<byte> network, int prefixLength)
    {
        int whole = prefixLength / 8;
        if (!address[..whole].SequenceEqual(network[..whole]))
        {
            return false;
        }

        int rest = prefixLength % 8;
        if (rest == 0)
        {
            return true;
        }

        int mask = (0xFF << (8 - rest)) & 0xFF;
        return (address[whole] & mask) == (network[whole] & mask);
    }
}
