using Microsoft.Extensions.Configuration;
using ProxyKestrel.ProxyProtocol;

namespace ProxyKestrel.AspNetCore;

/// <summary>
/// Binds the <c>ProxyProtocol</c> section: the codec's <see cref="ProxyProtocolOptions"/> keys and the Kestrel-only
/// <see cref="ProxyProtocolKestrelOptions"/> key, collecting every problem of both in one list.
/// </summary>
internal static class ProxyProtocolOptionsBinder
{
    /// <summary>The Kestrel-only key of the section.</summary>
    public const string AllowUncheckedHttp3Key = nameof(ProxyProtocolKestrelOptions.AllowUncheckedHttp3);

    public static void Bind(IConfiguration section, ProxyProtocolOptions options, List<string> errors)
    {
        string path = section is IConfigurationSection s ? s.Path : ProxyProtocolOptions.SectionName;
        foreach (IConfigurationSection child in section.GetChildren())
        {
            string where = $"{path}:{child.Key}";
            if (IsAllowUncheckedHttp3(child.Key))
            {
                if (!bool.TryParse(child.Value?.Trim(), out _))
                {
                    errors.Add($"{where}: '{child.Value}' is not a valid value; allowed: true, false.");
                }

                continue;
            }

            string? key = ProxyProtocolOptionsReader.Match(child.Key);
            if (key is null)
            {
                errors.Add($"{where}: unknown key; allowed keys: {string.Join(", ", ProxyProtocolOptionsReader.Keys)}, {AllowUncheckedHttp3Key}.");
                continue;
            }

            if (child.Value is null && key == nameof(ProxyProtocolOptions.TrustedNetworks))
            {
                // A list section: "TrustedNetworks": [ "10.0.0.0/8", ... ] or TrustedNetworks:0=..., replacing the default.
                options.TrustedNetworks = [.. child.GetChildren().Select(item => item.Value ?? string.Empty)];
                continue;
            }

            ProxyProtocolOptionsReader.TrySet(options, child.Key, child.Value, where, errors);
        }
    }

    /// <summary>Sets <paramref name="options"/> from the section's Kestrel-only key; a bad value is reported by the other overload.</summary>
    public static void Bind(IConfiguration section, ProxyProtocolKestrelOptions options)
    {
        foreach (IConfigurationSection child in section.GetChildren())
        {
            if (IsAllowUncheckedHttp3(child.Key) && bool.TryParse(child.Value?.Trim(), out bool allow))
            {
                options.AllowUncheckedHttp3 = allow;
            }
        }
    }

    private static bool IsAllowUncheckedHttp3(string key) => string.Equals(key, AllowUncheckedHttp3Key, StringComparison.OrdinalIgnoreCase);
}
