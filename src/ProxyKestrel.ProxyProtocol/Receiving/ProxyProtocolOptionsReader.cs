using System.Globalization;

namespace ProxyKestrel.ProxyProtocol;

/// <summary>
/// Sets <see cref="ProxyProtocolOptions"/> from configuration text, key by key, collecting every problem (unknown
/// key, unparsable value) with its path and what is allowed, so start-up can report them all at once. Configuration
/// sources (Microsoft.Extensions.Configuration, the gateway's JSON) walk their keys and call <see cref="TrySet"/>.
/// </summary>
internal static class ProxyProtocolOptionsReader
{
    /// <summary>The configuration keys, which are the property names of <see cref="ProxyProtocolOptions"/>.</summary>
    public static IReadOnlyList<string> Keys { get; } =
    [
        nameof(ProxyProtocolOptions.TrustedNetworks),
        nameof(ProxyProtocolOptions.UntrustedPeers),
        nameof(ProxyProtocolOptions.Mode),
        nameof(ProxyProtocolOptions.HeaderTimeout),
        nameof(ProxyProtocolOptions.MaxHeaderSize),
        nameof(ProxyProtocolOptions.AllowedVersions),
    ];

    /// <summary>The canonical spelling of <paramref name="key"/> (keys are case-insensitive), or null when unknown.</summary>
    public static string? Match(string key)
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

    /// <summary>
    /// Sets one key from its text. <c>TrustedNetworks</c> takes a comma- or semicolon-separated list here (list
    /// sections set <see cref="ProxyProtocolOptions.TrustedNetworks"/> directly). Returns false, with a message naming
    /// <paramref name="path"/> in <paramref name="errors"/>, for an unknown key or a bad value.
    /// </summary>
    public static bool TrySet(ProxyProtocolOptions options, string key, string? value, string path, List<string> errors)
    {
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(errors);
        switch (Match(key))
        {
            case nameof(ProxyProtocolOptions.TrustedNetworks):
                options.TrustedNetworks = [.. (value ?? string.Empty).Split([',', ';'], StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)];
                return true;
            case nameof(ProxyProtocolOptions.UntrustedPeers):
                if (TryEnum(value, out UntrustedPeerBehavior untrusted))
                {
                    options.UntrustedPeers = untrusted;
                    return true;
                }

                return Fail(errors, $"{path}: '{value}' is not a valid value; allowed: Reject, Passthrough.");
            case nameof(ProxyProtocolOptions.Mode):
                if (TryEnum(value, out ProxyProtocolMode mode))
                {
                    options.Mode = mode;
                    return true;
                }

                return Fail(errors, $"{path}: '{value}' is not a valid value; allowed: Required, Optional.");
            case nameof(ProxyProtocolOptions.HeaderTimeout):
                if (TimeSpan.TryParse(value, CultureInfo.InvariantCulture, out TimeSpan timeout))
                {
                    options.HeaderTimeout = timeout;
                    return true;
                }

                return Fail(errors, $"{path}: '{value}' is not a time span; allowed: hh:mm:ss from 00:00:03 to 00:05:00, e.g. 00:00:05.");
            case nameof(ProxyProtocolOptions.MaxHeaderSize):
                if (int.TryParse(value, NumberStyles.None, CultureInfo.InvariantCulture, out int size))
                {
                    options.MaxHeaderSize = size;
                    return true;
                }

                return Fail(errors, $"{path}: '{value}' is not a whole number; allowed: {ProxyHeaderParserOptions.MinMaxHeaderSize} to {ProxyHeaderParserOptions.MaxMaxHeaderSize} bytes.");
            case nameof(ProxyProtocolOptions.AllowedVersions):
                if (TryVersions(value, out ProxyProtocolVersions versions))
                {
                    options.AllowedVersions = versions;
                    return true;
                }

                return Fail(errors, $"{path}: '{value}' is not a valid value; allowed: V1, V2, All (or \"V1, V2\").");
            default:
                return Fail(errors, $"{path}: unknown key; allowed keys: {string.Join(", ", Keys)}.");
        }
    }

    private static bool Fail(List<string> errors, string message)
    {
        errors.Add(message);
        return false;
    }

    private static bool TryEnum<TEnum>(string? value, out TEnum result)
        where TEnum : struct, Enum
    {
        result = default;
        return value is not null
            && !int.TryParse(value, out _)
            && !value.Contains(',', StringComparison.Ordinal) // Enum.TryParse would OR a list together ("Required, Optional" → Optional)
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
