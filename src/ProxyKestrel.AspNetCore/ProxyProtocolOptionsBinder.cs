using Microsoft.Extensions.Configuration;
using ProxyKestrel.ProxyProtocol;

namespace ProxyKestrel.AspNetCore;

/// <summary>Binds <see cref="ProxyProtocolOptions"/> from a configuration section, collecting every problem.</summary>
internal static class ProxyProtocolOptionsBinder
{
    public static void Bind(IConfiguration section, ProxyProtocolOptions options, List<string> errors)
    {
        string path = section is IConfigurationSection s ? s.Path : ProxyProtocolOptions.SectionName;
        foreach (IConfigurationSection child in section.GetChildren())
        {
            string where = $"{path}:{child.Key}";
            if (child.Value is null
                && ProxyProtocolOptionsReader.Match(child.Key) == nameof(ProxyProtocolOptions.TrustedNetworks))
            {
                // A list section: "TrustedNetworks": [ "10.0.0.0/8", ... ] or TrustedNetworks:0=..., replacing the default.
                options.TrustedNetworks = [.. child.GetChildren().Select(item => item.Value ?? string.Empty)];
                continue;
            }

            ProxyProtocolOptionsReader.TrySet(options, child.Key, child.Value, where, errors);
        }
    }
}
