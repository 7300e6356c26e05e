using System.Globalization;
using Microsoft.Extensions.Configuration;
using ProxyKestrel.ProxyProtocol;

namespace ProxyKestrel.AspNetCore;

/// <summary>
/// Binds <see cref="ProxyProtocolOptions"/> from configuration, collecting every problem (unknown key, unparsable
/// value) instead of stopping at the first, so start-up can report them all at once.
/// </summary>
internal static class ProxyProtocolOptionsBinder
{
    private static readonly string[] Keys =
    [
        nameof(ProxyProtocolOptions.TrustedNetworks),
        nameof(ProxyProtocolOptions.UntrustedPeers),
        nameof(ProxyProtocolOptions.Mode),
        nameof(ProxyProtocolOptions.HeaderTimeout),
        nameof(ProxyProtocolOptions.MaxHeaderSize),
        nameof(ProxyProtocolOptions.AllowedVersions),
    ];

    public static void Bind(IConfiguration section, ProxyProtocolOptions options, List<string> errors)
    {
        string path = section is IConfigurationSection s ? s.Path : ProxyProtocolOptions.SectionName;
        foreach (IConfigurationSection child in section.GetChildren())
        {
            string key = child.Key;
            string where = $"{path}:{key}";
            switch (Match(key))
            {
                case nameof(ProxyProtocolOptions.TrustedNetworks):
                    options.TrustedNetworks = ReadList(child);
                    break;
                case nameof(ProxyProtocolOptions.UntrustedPeers):
                    if (TryEnum(child.Value, out UntrustedPeerBehavior untrusted))
                    {
                        options.UntrustedPeers = untrusted;
                    }
                    else
                    {
                        errors.Add($"{where}: '{child.Value}' is not a valid value; allowed: Reject, Passthrough.");
                    }

                    break;
                case nameof(ProxyProtocolOptions.Mode):
                    if (TryEnum(child.Value, out ProxyProtocolMode mode))
                    {
                        options.Mode = mode;
                    }
                    else
                    {
                        errors.Add($"{where}: '{child.Value}' is not a valid value; allowed: Required, Optional.");
                    }

                    break;
                case nameof(ProxyProtocolOptions.HeaderTimeout):
                    if (TimeSpan.TryParse(child.Value, CultureInfo.InvariantCulture, out TimeSpan timeout))
                    {
                        options.HeaderTimeout = timeout;
                    }
                    else
                    {
                        errors.Add($"{where}: '{child.Value}' is not a time span; allowed: hh:mm:ss from 00:00:03 to 00:05:00, e.g. 00:00:05.");
                    }

                    break;
                case nameof(ProxyProtocolOptions.MaxHeaderSize):
                    if (int.TryParse(child.Value, NumberStyles.None, CultureInfo.InvariantCulture, out int size))
                    {
                        options.MaxHeaderSize = size;
                    }
                    else
                    {
                        errors.Add($"{where}: '{child.Value}' is not a whole number; allowed: {ProxyHeaderParserOptions.MinMaxHeaderSize} to {ProxyHeaderParserOptions.MaxMaxHeaderSize} bytes.");
                    }

                    break;
                case nameof(ProxyProtocolOptions.AllowedVersions):
                    if (TryVersions(child.Value, out ProxyProtocolVersions versions))
                    {
                        options.AllowedVersions = versions;
                    }
                    else
                    {
                        errors.Add($"{where}: '{child.Value}' is not a valid value; allowed: V1, V2, All (or \"V1, V2\").");
                    }

                    break;
                default:
                    errors.Add($"{where}: unknown key; allowed keys: {string.Join(", ", Keys)}.");
                    break;
            }
        }
    }

    private static string? Match(string key)
    {
        foreach (string known in Keys)
        {
            if (string.Equals(known, key, StringComparison.OrdinalIgnoreCase))
            {
                return known;
            }
        }

        return null;
    }

    private static List<string> ReadList(IConfigurationSection section)
    {
        var list = new List<string>();
        if (section.Value is { } single)
        {
            // "TrustedNetworks": "10.0.0.0/8, 192.168.0.0/16" (environment variables, command line).
            foreach (string item in single.Split([',', ';'], StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
            {
                list.Add(item);
            }

            return list;
        }

        foreach (IConfigurationSection item in section.GetChildren())
        {
            list.Add(item.Value ?? string.Empty);
        }

        return list;
    }

    private static bool TryEnum<TEnum>(string? value, out TEnum result)
        where TEnum : struct, Enum
    {
        result = default;
        return value is not null
            && !int.TryParse(value, out _)
            && Enum.TryParse(value.Trim(), ignoreCase: true, out result)
            && Enum.IsDefined(result);
    }

    private static bool TryVersions(string? value, out ProxyProtocolVersions versions)
    {
        versions = ProxyProtocolVersions.None;
        if (string.IsNullOrWhiteSpace(value))
        {
            return false;
        }

        foreach (string part in value.Split([',', '|'], StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
        {
            if (!TryEnum(part, out ProxyProtocolVersions one) || one == ProxyProtocolVersions.None)
            {
                return false;
            }

            versions |= one;
        }

        return versions != ProxyProtocolVersions.None;
    }
}
