using System.Net;

namespace ProxyKestrel.ProxyProtocol;

/// <summary>Checks <see cref="ProxyProtocolOptions"/>, reporting every error with its key and what is allowed.</summary>
internal static class ProxyProtocolOptionsValidation
{
    /// <summary>Appends one message per problem, each naming <c>{prefix}:{key}</c>.</summary>
    public static void Validate(ProxyProtocolOptions options, string prefix, List<string> errors)
    {
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(errors);
        if (options.TrustedNetworks is null)
        {
            errors.Add($"{prefix}:TrustedNetworks: must not be null; allowed: a list of CIDR networks such as 10.0.0.0/8 or fd00::/8.");
        }
        else
        {
            for (int i = 0; i < options.TrustedNetworks.Count; i++)
            {
                if (DescribeNetworkProblem(options.TrustedNetworks[i]) is { } problem)
                {
                    errors.Add($"{prefix}:TrustedNetworks:{i}: {problem}");
                }
            }
        }

        if (!Enum.IsDefined(options.UntrustedPeers))
        {
            errors.Add($"{prefix}:UntrustedPeers: '{options.UntrustedPeers}' is not a valid value; allowed: Reject, Passthrough.");
        }

        if (!Enum.IsDefined(options.Mode))
        {
            errors.Add($"{prefix}:Mode: '{options.Mode}' is not a valid value; allowed: Required, Optional.");
        }

        if (options.HeaderTimeout < ProxyProtocolOptions.MinHeaderTimeout || options.HeaderTimeout > ProxyProtocolOptions.MaxHeaderTimeout)
        {
            errors.Add($"{prefix}:HeaderTimeout: {options.HeaderTimeout:c} is out of range; allowed: {ProxyProtocolOptions.MinHeaderTimeout:c} to {ProxyProtocolOptions.MaxHeaderTimeout:c} (the specification advises at least 3 seconds to cover a TCP retransmit).");
        }

        if (options.MaxHeaderSize < ProxyHeaderParserOptions.MinMaxHeaderSize || options.MaxHeaderSize > ProxyHeaderParserOptions.MaxMaxHeaderSize)
        {
            errors.Add($"{prefix}:MaxHeaderSize: {options.MaxHeaderSize} is out of range; allowed: {ProxyHeaderParserOptions.MinMaxHeaderSize} to {ProxyHeaderParserOptions.MaxMaxHeaderSize} bytes.");
        }

        if (options.AllowedVersions == ProxyProtocolVersions.None || (options.AllowedVersions & ~ProxyProtocolVersions.All) != 0)
        {
            errors.Add($"{prefix}:AllowedVersions: '{options.AllowedVersions}' is not valid; allowed: V1, V2, All.");
        }
    }

    /// <summary>
    /// Null when <paramref name="text"/> is a network a peer can match, else what is wrong and what is allowed.
    /// IPv4-mapped IPv6 networks (<c>::ffff:10.0.0.0/104</c>) are refused: peers of dual-mode sockets are compared in
    /// their IPv4 form, so such an entry would silently match nobody; the message names the IPv4 network to write.
    /// </summary>
    public static string? DescribeNetworkProblem(string? text)
    {
        if (!TryParseNetwork(text, out IPNetwork network))
        {
            return $"'{text}' is not a network; allowed: CIDR notation with the host bits zero (10.0.0.0/8, 2001:db8::/32) or a single address.";
        }

        if (network.BaseAddress.IsIPv4MappedToIPv6)
        {
            string ipv4 = $"{network.BaseAddress.MapToIPv4()}/{network.PrefixLength - 96}";
            return $"'{text}' is an IPv4-mapped IPv6 network, which would match no peer (IPv4-mapped peers are compared with IPv4 networks); allowed: the IPv4 form, here {ipv4}.";
        }

        return null;
    }

    /// <summary>Parses <c>a.b.c.d/n</c>, <c>x::/n</c> or a bare address (a single host).</summary>
    public static bool TryParseNetwork(string? text, out IPNetwork network)
    {
        network = default;
        if (string.IsNullOrWhiteSpace(text))
        {
            return false;
        }

        text = text.Trim();
        if (!text.Contains('/', StringComparison.Ordinal))
        {
            if (!IPAddress.TryParse(text, out IPAddress? address) || (address.AddressFamily == System.Net.Sockets.AddressFamily.InterNetworkV6 && address.ScopeId != 0))
            {
                return false;
            }

            network = new IPNetwork(address, address.AddressFamily == System.Net.Sockets.AddressFamily.InterNetwork ? 32 : 128);
            return true;
        }

        int slash = text.IndexOf('/', StringComparison.Ordinal);
        if (!IPAddress.TryParse(text.AsSpan(0, slash), out IPAddress? baseAddress)
            || (baseAddress.AddressFamily == System.Net.Sockets.AddressFamily.InterNetworkV6 && baseAddress.ScopeId != 0)
            || !int.TryParse(text.AsSpan(slash + 1), System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out int prefix)
            || prefix > (baseAddress.AddressFamily == System.Net.Sockets.AddressFamily.InterNetwork ? 32 : 128)
            || !HostBitsAreZero(baseAddress, prefix))
        {
            return false;
        }

        network = new IPNetwork(baseAddress, prefix);
        return true;
    }

    private static bool HostBitsAreZero(IPAddress address, int prefix)
    {
        Span<byte> bytes = stackalloc byte[16];
        _ = address.TryWriteBytes(bytes, out int length);
        for (int bit = prefix; bit < length * 8; bit++)
        {
            if ((bytes[bit / 8] & (0x80 >> (bit % 8))) != 0)
            {
                return false;
            }
        }

        return true;
    }
}
