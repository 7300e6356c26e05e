using Microsoft.Extensions.Configuration;
using ProxyKestrel.Gateway.Configuration;

namespace ProxyKestrel.Gateway.Udp;

/// <summary>Reads the <c>UdpProxy</c> section, collecting every unknown key and unparsable value with its path.</summary>
internal static class UdpProxyConfigReader
{
    private static readonly string[] SectionKeys = [nameof(UdpProxyConfig.Routes), nameof(UdpProxyConfig.DrainTimeout), nameof(UdpProxyConfig.Transport)];

    private static readonly string[] RouteKeys =
    [
        nameof(UdpRouteConfig.Listen),
        nameof(UdpRouteConfig.ClusterId),
        nameof(UdpRouteConfig.IdleTimeout),
        nameof(UdpRouteConfig.MaxSessions),
        nameof(UdpRouteConfig.AcceptProxyProtocol),
    ];

    /// <summary>Reads <paramref name="section"/>; problems go to <paramref name="errors"/>, one message each.</summary>
    public static UdpProxyConfig Read(IConfiguration section, List<string> errors)
    {
        ArgumentNullException.ThrowIfNull(section);
        ArgumentNullException.ThrowIfNull(errors);
        var config = new UdpProxyConfig();
        var routes = new List<UdpRouteConfig>();
        foreach (IConfigurationSection child in section.GetChildren())
        {
            switch (TcpProxyConfigReader.Match(child.Key, SectionKeys))
            {
                case nameof(UdpProxyConfig.Routes):
                    foreach (IConfigurationSection route in child.GetChildren())
                    {
                        routes.Add(ReadRoute(route, errors));
                    }

                    break;
                case nameof(UdpProxyConfig.DrainTimeout):
                    config = config with { DrainTimeout = TcpProxyConfigReader.ReadTimeSpan(child, errors) ?? config.DrainTimeout };
                    break;
                case nameof(UdpProxyConfig.Transport):
                    config = config with { Transport = TcpProxyConfigReader.ReadTransport(child, errors) ?? config.Transport };
                    break;
                default:
                    errors.Add($"{child.Path}: unknown key; allowed keys: {string.Join(", ", SectionKeys)}.");
                    break;
            }
        }

        return config with { Routes = routes };
    }

    private static UdpRouteConfig ReadRoute(IConfigurationSection section, List<string> errors)
    {
        var route = new UdpRouteConfig { RouteId = section.Key };
        foreach (IConfigurationSection child in section.GetChildren())
        {
            switch (TcpProxyConfigReader.Match(child.Key, RouteKeys))
            {
                case nameof(UdpRouteConfig.Listen):
                    route = route with { Listen = TcpProxyConfigReader.ReadList(child) };
                    break;
                case nameof(UdpRouteConfig.ClusterId):
                    route = route with { ClusterId = child.Value ?? string.Empty };
                    break;
                case nameof(UdpRouteConfig.IdleTimeout):
                    route = route with { IdleTimeout = TcpProxyConfigReader.ReadTimeSpan(child, errors) ?? route.IdleTimeout };
                    break;
                case nameof(UdpRouteConfig.MaxSessions):
                    route = route with { MaxSessions = TcpProxyConfigReader.ReadWholeNumber(child, errors, "1 or more") ?? route.MaxSessions };
                    break;
                case nameof(UdpRouteConfig.AcceptProxyProtocol):
                    if (child.GetSection(nameof(ProxyProtocolOptions.HeaderTimeout)).Value is not null)
                    {
                        errors.Add($"{child.Path}:{nameof(ProxyProtocolOptions.HeaderTimeout)}: does not apply to UDP (each datagram carries its whole header); remove it.");
                    }

                    route = route with { AcceptProxyProtocol = TcpProxyConfigReader.ReadAcceptProxyProtocol(child, errors) };
                    break;
                default:
                    errors.Add($"{child.Path}: unknown key; allowed keys: {string.Join(", ", RouteKeys)}.");
                    break;
            }
        }

        return route;
    }
}
