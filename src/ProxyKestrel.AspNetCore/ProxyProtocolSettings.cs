using System.Net;
using ProxyKestrel.ProxyProtocol;

namespace ProxyKestrel.AspNetCore;

/// <summary>Validated, precompiled options used on every connection.</summary>
internal sealed class ProxyProtocolSettings
{
    private readonly IPNetwork[] _trustedNetworks;

    private ProxyProtocolSettings(ProxyProtocolOptions options, IPNetwork[] networks)
    {
        _trustedNetworks = networks;
        UntrustedPeers = options.UntrustedPeers;
        Mode = options.Mode;
        HeaderTimeout = options.HeaderTimeout;
        ParserOptions = new ProxyHeaderParserOptions
        {
            AllowedVersions = options.AllowedVersions,
            MaxHeaderSize = options.MaxHeaderSize,
        };
    }

    public UntrustedPeerBehavior UntrustedPeers { get; }

    public ProxyProtocolMode Mode { get; }

    public TimeSpan HeaderTimeout { get; }

    public ProxyHeaderParserOptions ParserOptions { get; }

    /// <summary>Validates <paramref name="options"/> and compiles it; throws with every error listed.</summary>
    public static ProxyProtocolSettings Create(ProxyProtocolOptions options, string prefix)
    {
        var errors = new List<string>();
        ProxyProtocolOptionsValidator.Validate(options, prefix, errors);
        if (errors.Count > 0)
        {
            throw new Microsoft.Extensions.Options.OptionsValidationException(
                prefix, typeof(ProxyProtocolOptions), errors);
        }

        var networks = new IPNetwork[options.TrustedNetworks.Count];
        for (int i = 0; i < networks.Length; i++)
        {
            _ = ProxyProtocolOptionsValidator.TryParseNetwork(options.TrustedNetworks[i], out networks[i]);
        }

        return new ProxyProtocolSettings(options, networks);
    }

    /// <summary>True when <paramref name="remote"/> lies in a trusted network; IPv4-mapped IPv6 matches IPv4 networks.</summary>
    public bool IsTrusted(EndPoint? remote)
    {
        if (remote is not IPEndPoint ip)
        {
            // UNIX sockets and other non-IP transports: only a local process can connect.
            return remote is not null && remote.AddressFamily == System.Net.Sockets.AddressFamily.Unix;
        }

        IPAddress address = ip.Address.IsIPv4MappedToIPv6 ? ip.Address.MapToIPv4() : ip.Address;
        foreach (IPNetwork network in _trustedNetworks)
        {
            if (network.Contains(address))
            {
                return true;
            }
        }

        return false;
    }
}
