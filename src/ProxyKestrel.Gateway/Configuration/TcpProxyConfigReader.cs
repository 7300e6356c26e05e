using System.Globalization;
using Microsoft.Extensions.Configuration;

namespace ProxyKestrel.Gateway.Configuration;

/// <summary>Reads the <c>TcpProxy</c> section, collecting every unknown key and unparsable value with its path.</summary>
internal static class TcpProxyConfigReader
{
    private static readonly string[] SectionKeys = ["Routes", "DrainTimeout", "Transport"];

    private static readonly string[] RouteKeys =
    [
        nameof(TcpRouteConfig.Listen),
        nameof(TcpRouteConfig.ClusterId),
        nameof(TcpRouteConfig.ConnectTimeout),
        nameof(TcpRouteConfig.IdleTimeout),
        nameof(TcpRouteConfig.ClientTimeout),
        nameof(TcpRouteConfig.ServerTimeout),
        nameof(TcpRouteConfig.AllowedClients),
        nameof(TcpRouteConfig.MaxConnections),
        nameof(TcpRouteConfig.AcceptProxyProtocol),
        nameof(TcpRouteConfig.Match),
        nameof(TcpRouteConfig.InspectTimeout),
        nameof(TcpRouteConfig.MaxInspectBytes),
        nameof(TcpRouteConfig.Protocol),
        nameof(TcpRouteConfig.Users),
        nameof(TcpRouteConfig.AuthHttp),
        nameof(TcpRouteConfig.Tls),
        nameof(TcpRouteConfig.AllowPlaintextLogin),
        nameof(TcpRouteConfig.LoginTimeout),
        nameof(TcpRouteConfig.FailedLoginDelay),
        nameof(TcpRouteConfig.MaxLineLength),
        nameof(TcpRouteConfig.ServerName),
    ];

    private static readonly string[] UserRuleKeys = [nameof(TcpMailUserRule.Match), nameof(TcpMailUserRule.ClusterId)];

    private static readonly string[] TlsKeys =
    [
        nameof(TcpMailTlsConfig.CertificatePath),
        nameof(TcpMailTlsConfig.KeyPath),
        nameof(TcpMailTlsConfig.CertificatePassword),
        nameof(TcpMailTlsConfig.Implicit),
    ];

    private static readonly string[] MatchKeys =
    [
        nameof(TcpRouteMatch.Sni),
        nameof(TcpRouteMatch.Alpn),
        nameof(TcpRouteMatch.Host),
        nameof(TcpRouteMatch.Protocol),
        nameof(TcpRouteMatch.SourceNetworks),
    ];

    /// <summary>Reads <paramref name="section"/>; problems go to <paramref name="errors"/>, one message each.</summary>
    public static TcpProxyConfig Read(IConfiguration section, List<string> errors)
    {
        ArgumentNullException.ThrowIfNull(section);
        ArgumentNullException.ThrowIfNull(errors);
        var routes = new List<TcpRouteConfig>();
        TimeSpan drain = new TcpProxyConfig().DrainTimeout;
        TcpProxyTransport transport = TcpProxyTransport.Auto;
        foreach (IConfigurationSection child in section.GetChildren())
        {
            switch (Match(child.Key, SectionKeys))
            {
                case "Routes":
                    foreach (IConfigurationSection route in child.GetChildren())
                    {
                        routes.Add(ReadRoute(route, errors));
                    }

                    break;
                case "DrainTimeout":
                    drain = ReadTimeSpan(child, errors) ?? drain;
                    break;
                case "Transport":
                    transport = ReadTransport(child, errors) ?? transport;
                    break;
                default:
                    errors.Add($"{child.Path}: unknown key; allowed keys: {string.Join(", ", SectionKeys)}.");
                    break;
            }
        }

        return new TcpProxyConfig { Routes = routes, DrainTimeout = drain, Transport = transport };
    }

    private static TcpRouteConfig ReadRoute(IConfigurationSection section, List<string> errors)
    {
        var route = new TcpRouteConfig { RouteId = section.Key };
        foreach (IConfigurationSection child in section.GetChildren())
        {
            switch (Match(child.Key, RouteKeys))
            {
                case nameof(TcpRouteConfig.Listen):
                    route = route with { Listen = ReadList(child) };
                    break;
                case nameof(TcpRouteConfig.ClusterId):
                    route = route with { ClusterId = child.Value ?? string.Empty };
                    break;
                case nameof(TcpRouteConfig.ConnectTimeout):
                    route = route with { ConnectTimeout = ReadTimeSpan(child, errors) ?? route.ConnectTimeout };
                    break;
                case nameof(TcpRouteConfig.IdleTimeout):
                    route = route with { IdleTimeout = ReadTimeSpan(child, errors) ?? route.IdleTimeout };
                    break;
                case nameof(TcpRouteConfig.ClientTimeout):
                    route = route with { ClientTimeout = ReadTimeSpan(child, errors) ?? route.ClientTimeout };
                    break;
                case nameof(TcpRouteConfig.ServerTimeout):
                    route = route with { ServerTimeout = ReadTimeSpan(child, errors) ?? route.ServerTimeout };
                    break;
                case nameof(TcpRouteConfig.AllowedClients):
                    route = route with { AllowedClients = ReadList(child) };
                    break;
                case nameof(TcpRouteConfig.MaxConnections):
                    route = route with { MaxConnections = ReadWholeNumber(child, errors, "1 or more") ?? route.MaxConnections };
                    break;
                case nameof(TcpRouteConfig.AcceptProxyProtocol):
                    route = route with { AcceptProxyProtocol = ReadAcceptProxyProtocol(child, errors) };
                    break;
                case nameof(TcpRouteConfig.Match):
                    route = route with { Match = ReadMatch(child, errors) };
                    break;
                case nameof(TcpRouteConfig.InspectTimeout):
                    route = route with { InspectTimeout = ReadTimeSpan(child, errors) ?? route.InspectTimeout };
                    break;
                case nameof(TcpRouteConfig.MaxInspectBytes):
                    route = route with { MaxInspectBytes = ReadWholeNumber(child, errors, $"1 to {TcpRouteConfig.MaxMaxInspectBytes}") ?? route.MaxInspectBytes };
                    break;
                case nameof(TcpRouteConfig.Protocol):
                    if (Match(child.Value?.Trim() ?? string.Empty, Enum.GetNames<TcpRouteProtocol>()) is { } protocol)
                    {
                        route = route with { Protocol = Enum.Parse<TcpRouteProtocol>(protocol) };
                    }
                    else
                    {
                        errors.Add($"{child.Path}: '{child.Value}' is not a route protocol; allowed: {string.Join(", ", Enum.GetNames<TcpRouteProtocol>())}.");
                    }

                    break;
                case nameof(TcpRouteConfig.Users):
                    route = route with { Users = ReadUsers(child, errors) };
                    break;
                case nameof(TcpRouteConfig.AuthHttp):
                    route = route with { AuthHttp = child.Value ?? string.Empty };
                    break;
                case nameof(TcpRouteConfig.Tls):
                    route = route with { Tls = ReadTls(child, errors) };
                    break;
                case nameof(TcpRouteConfig.AllowPlaintextLogin):
                    route = route with { AllowPlaintextLogin = ReadBool(child, errors) ?? route.AllowPlaintextLogin };
                    break;
                case nameof(TcpRouteConfig.LoginTimeout):
                    route = route with { LoginTimeout = ReadTimeSpan(child, errors) ?? route.LoginTimeout };
                    break;
                case nameof(TcpRouteConfig.FailedLoginDelay):
                    route = route with { FailedLoginDelay = ReadTimeSpan(child, errors) ?? route.FailedLoginDelay };
                    break;
                case nameof(TcpRouteConfig.MaxLineLength):
                    route = route with { MaxLineLength = ReadWholeNumber(child, errors, $"{TcpRouteConfig.MinMaxLineLength} to {TcpRouteConfig.MaxMaxLineLength}") ?? route.MaxLineLength };
                    break;
                case nameof(TcpRouteConfig.ServerName):
                    route = route with { ServerName = child.Value ?? string.Empty };
                    break;
                default:
                    errors.Add($"{child.Path}: unknown key; allowed keys: {string.Join(", ", RouteKeys)}.");
                    break;
            }
        }

        return route;
    }

    internal static ProxyProtocolOptions ReadAcceptProxyProtocol(IConfigurationSection section, List<string> errors)
    {
        var options = new ProxyProtocolOptions();
        foreach (IConfigurationSection child in section.GetChildren())
        {
            if (child.Value is null && ProxyProtocolOptionsReader.Match(child.Key) == nameof(ProxyProtocolOptions.TrustedNetworks))
            {
                options.TrustedNetworks = [.. ReadList(child)];
                continue;
            }

            ProxyProtocolOptionsReader.TrySet(options, child.Key, child.Value, child.Path, errors);
        }

        return options;
    }

    private static TcpRouteMatch ReadMatch(IConfigurationSection section, List<string> errors)
    {
        var match = new TcpRouteMatch();
        foreach (IConfigurationSection child in section.GetChildren())
        {
            switch (Match(child.Key, MatchKeys))
            {
                case nameof(TcpRouteMatch.Sni):
                    match = match with { Sni = ReadList(child) };
                    break;
                case nameof(TcpRouteMatch.Alpn):
                    match = match with { Alpn = ReadList(child) };
                    break;
                case nameof(TcpRouteMatch.Host):
                    match = match with { Host = ReadList(child) };
                    break;
                case nameof(TcpRouteMatch.SourceNetworks):
                    match = match with { SourceNetworks = ReadList(child) };
                    break;
                case nameof(TcpRouteMatch.Protocol):
                    List<string> names = ReadList(child);
                    var protocols = new List<TcpClientProtocol>(names.Count);
                    for (int i = 0; i < names.Count; i++)
                    {
                        if (Match(names[i].Trim(), Enum.GetNames<TcpClientProtocol>()) is { } name)
                        {
                            protocols.Add(Enum.Parse<TcpClientProtocol>(name));
                        }
                        else
                        {
                            string path = child.Value is null ? $"{child.Path}:{i}" : child.Path;
                            errors.Add($"{path}: '{names[i]}' is not a protocol; allowed: {string.Join(", ", Enum.GetNames<TcpClientProtocol>())}.");
                        }
                    }

                    match = match with { Protocol = protocols };
                    break;
                default:
                    errors.Add($"{child.Path}: unknown key; allowed keys: {string.Join(", ", MatchKeys)}.");
                    break;
            }
        }

        return match;
    }

    /// <summary>Reads a mail route's <c>Users</c>: a list of <c>{ "Match": ..., "ClusterId": ... }</c>.</summary>
    private static List<TcpMailUserRule> ReadUsers(IConfigurationSection section, List<string> errors)
    {
        var rules = new List<TcpMailUserRule>();
        if (!string.IsNullOrEmpty(section.Value))
        {
            errors.Add($"{section.Path}: '{section.Value}' is not a list of rules; allowed: a list of {{ \"Match\": \"^[a-m]\", \"ClusterId\": \"...\" }}.");
            return rules;
        }

        foreach (IConfigurationSection item in section.GetChildren())
        {
            string match = string.Empty;
            string cluster = string.Empty;
            if (!string.IsNullOrEmpty(item.Value))
            {
                errors.Add($"{item.Path}: '{item.Value}' is not a rule; allowed: {{ \"Match\": \"^[a-m]\", \"ClusterId\": \"...\" }}.");
            }

            foreach (IConfigurationSection child in item.GetChildren())
            {
                switch (Match(child.Key, UserRuleKeys))
                {
                    case nameof(TcpMailUserRule.Match):
                        match = child.Value ?? string.Empty;
                        break;
                    case nameof(TcpMailUserRule.ClusterId):
                        cluster = child.Value ?? string.Empty;
                        break;
                    default:
                        errors.Add($"{child.Path}: unknown key; allowed keys: {string.Join(", ", UserRuleKeys)}.");
                        break;
                }
            }

            rules.Add(new TcpMailUserRule { Match = match, ClusterId = cluster });
        }

        return rules;
    }

    /// <summary>Reads a mail route's <c>Tls</c>.</summary>
    private static TcpMailTlsConfig ReadTls(IConfigurationSection section, List<string> errors)
    {
        var tls = new TcpMailTlsConfig();
        if (!string.IsNullOrEmpty(section.Value))
        {
            errors.Add($"{section.Path}: '{section.Value}' is not a section; allowed keys: {string.Join(", ", TlsKeys)}.");
        }

        foreach (IConfigurationSection child in section.GetChildren())
        {
            switch (Match(child.Key, TlsKeys))
            {
                case nameof(TcpMailTlsConfig.CertificatePath):
                    tls = tls with { CertificatePath = child.Value ?? string.Empty };
                    break;
                case nameof(TcpMailTlsConfig.KeyPath):
                    tls = tls with { KeyPath = child.Value ?? string.Empty };
                    break;
                case nameof(TcpMailTlsConfig.CertificatePassword):
                    tls = tls with { CertificatePassword = child.Value ?? string.Empty };
                    break;
                case nameof(TcpMailTlsConfig.Implicit):
                    tls = tls with { Implicit = ReadBool(child, errors) ?? tls.Implicit };
                    break;
                default:
                    errors.Add($"{child.Path}: unknown key; allowed keys: {string.Join(", ", TlsKeys)}.");
                    break;
            }
        }

        return tls;
    }

    /// <summary>The boolean <paramref name="section"/> holds; null (and an error) when it is not one.</summary>
    private static bool? ReadBool(IConfigurationSection section, List<string> errors)
    {
        if (bool.TryParse(section.Value?.Trim(), out bool value))
        {
            return value;
        }

        errors.Add($"{section.Path}: '{section.Value}' is not a boolean; allowed: true, false.");
        return null;
    }

    internal static List<string> ReadList(IConfigurationSection section)
    {
        if (section.Value is { } single)
        {
            return [.. single.Split([',', ';'], StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)];
        }

        return [.. section.GetChildren().Select(item => item.Value ?? string.Empty)];
    }

    /// <summary>The whole number <paramref name="section"/> holds; null (and an error naming <paramref name="allowed"/>) when it is not one.</summary>
    internal static int? ReadWholeNumber(IConfigurationSection section, List<string> errors, string allowed)
    {
        if (int.TryParse(section.Value, NumberStyles.None, CultureInfo.InvariantCulture, out int value))
        {
            return value;
        }

        errors.Add($"{section.Path}: '{section.Value}' is not a whole number; allowed: {allowed}.");
        return null;
    }

    /// <summary>The transport <paramref name="section"/> names (TCP and UDP routes alike); null (and an error) when it names none.</summary>
    internal static TcpProxyTransport? ReadTransport(IConfigurationSection section, List<string> errors)
    {
        if (Match(section.Value?.Trim() ?? string.Empty, Enum.GetNames<TcpProxyTransport>()) is { } name)
        {
            return Enum.Parse<TcpProxyTransport>(name);
        }

        errors.Add($"{section.Path}: '{section.Value}' is not a transport; allowed: {string.Join(", ", Enum.GetNames<TcpProxyTransport>())}.");
        return null;
    }

    /// <summary>The time span <paramref name="section"/> holds; null (and an error) when it is not one.</summary>
    internal static TimeSpan? ReadTimeSpan(IConfigurationSection section, List<string> errors)
    {
        if (TimeSpan.TryParse(section.Value, CultureInfo.InvariantCulture, out TimeSpan value))
        {
            return value;
        }

        errors.Add($"{section.Path}: '{section.Value}' is not a time span; allowed: hh:mm:ss, e.g. 00:00:05.");
        return null;
    }

    internal static string? Match(string key, string[] keys) =>
        keys.FirstOrDefault(k => string.Equals(k, key, StringComparison.OrdinalIgnoreCase));
}
