using System.Net;
using ProxyKestrel.Gateway.Configuration;
using Yarp.ReverseProxy.Configuration;

namespace ProxyKestrel.Gateway.Udp;

/// <summary>Checks a <see cref="UdpProxyConfig"/>, reporting every error with its key, what was wrong and what is allowed.</summary>
internal static class UdpProxyConfigValidator
{
    private static readonly TimeSpan MinIdleTimeout = TimeSpan.FromSeconds(1);
    private static readonly TimeSpan MaxIdleTimeout = TimeSpan.FromHours(1);

    /// <summary>
    /// Validates <paramref name="config"/>; <paramref name="clusterOf"/> (when given) returns YARP's loaded cluster of an id,
    /// or null, so each route's cluster is checked too: it must exist, have <c>udp://</c> destinations and not ask for v1.
    /// </summary>
    public static void Validate(UdpProxyConfig config, Func<string, ClusterConfig?>? clusterOf, List<string> errors)
    {
        ArgumentNullException.ThrowIfNull(config);
        ArgumentNullException.ThrowIfNull(errors);
        string section = UdpProxyConfig.SectionName;
        if (config.DrainTimeout < TimeSpan.Zero || config.DrainTimeout > TimeSpan.FromHours(1))
        {
            errors.Add($"{section}:DrainTimeout: {config.DrainTimeout:c} is out of range; allowed: 00:00:00 to 01:00:00.");
        }

        if (config.Transport == TcpProxyTransport.Epoll && !OperatingSystem.IsLinux())
        {
            errors.Add($"{section}:Transport: Epoll needs Linux; allowed here: Auto, Sockets.");
        }

        var ids = new HashSet<string>(StringComparer.OrdinalIgnoreCase);
        var endpoints = new Dictionary<IPEndPoint, string>();
        foreach (UdpRouteConfig route in config.Routes)
        {
            string at = $"{section}:Routes:{(string.IsNullOrWhiteSpace(route.RouteId) ? "(no id)" : route.RouteId)}";
            if (string.IsNullOrWhiteSpace(route.RouteId))
            {
                errors.Add($"{at}:RouteId: missing; allowed: a non-empty id, unique among the UDP routes.");
            }
            else if (!ids.Add(route.RouteId))
            {
                errors.Add($"{at}: the route id '{route.RouteId}' is used twice; allowed: each id once.");
            }

            ValidateListen(route, at, endpoints, errors);
            ValidateRoute(route, at, errors);
            if (string.IsNullOrWhiteSpace(route.ClusterId))
            {
                errors.Add($"{at}:ClusterId: missing; allowed: the id of a cluster under ReverseProxy:Clusters.");
            }
            else if (clusterOf is not null)
            {
                if (clusterOf(route.ClusterId) is { } cluster)
                {
                    ValidateCluster(cluster, at, errors);
                }
                else
                {
                    errors.Add($"{at}:ClusterId: cluster '{route.ClusterId}' is not defined under ReverseProxy:Clusters (nor by another YARP config provider).");
                }
            }
        }
    }

    private static void ValidateListen(UdpRouteConfig route, string at, Dictionary<IPEndPoint, string> endpoints, List<string> errors)
    {
        IReadOnlyList<string> listen = route.Listen ?? [];
        if (listen.Count == 0)
        {
            errors.Add($"{at}:Listen: missing; allowed: one or more endpoints such as 0.0.0.0:5353, 127.0.0.1:5353 or [::]:5353.");
        }

        for (int i = 0; i < listen.Count; i++)
        {
            if (!TcpProxyConfigValidator.TryParseEndPoint(listen[i], out IPEndPoint? endpoint))
            {
                errors.Add($"{at}:Listen:{i}: '{listen[i]}' is not an endpoint; allowed: ADDRESS:PORT such as 0.0.0.0:5353, 127.0.0.1:5353 or [::]:5353.");
            }
            else if (endpoint.Port != 0 && !endpoints.TryAdd(endpoint, at))
            {
                errors.Add($"{at}:Listen:{i}: {endpoint} is also the endpoint of {endpoints[endpoint]}; allowed: each UDP endpoint in one route.");
            }
        }
    }

    private static void ValidateRoute(UdpRouteConfig route, string at, List<string> errors)
    {
        if (route.IdleTimeout < MinIdleTimeout || route.IdleTimeout > MaxIdleTimeout)
        {
            errors.Add($"{at}:IdleTimeout: {route.IdleTimeout:c} is out of range; allowed: 00:00:01 to 01:00:00.");
        }

        if (route.MaxSessions < 1)
        {
            errors.Add($"{at}:MaxSessions: {route.MaxSessions} is out of range; allowed: 1 or more.");
        }

        if (route.AcceptProxyProtocol is { } accept)
        {
            string prefix = $"{at}:AcceptProxyProtocol";
            ProxyProtocolOptionsValidation.Validate(accept, prefix, errors);
            if ((accept.AllowedVersions & ProxyProtocolVersions.V2) == 0)
            {
                errors.Add($"{prefix}:AllowedVersions: {accept.AllowedVersions} has no v2; allowed on UDP: V2 or All (only v2 is defined for datagrams).");
            }
        }
    }

    private static void ValidateCluster(ClusterConfig cluster, string at, List<string> errors)
    {
        string clusterAt = $"ReverseProxy:Clusters:{cluster.ClusterId}";
        var problems = new List<string>();
        ClusterProxyProtocol protocol = ClusterProxyProtocol.Read(cluster, problems);
        if (protocol.Version == ProxyProtocolVersion.V1)
        {
            errors.Add($"{clusterAt}:Metadata:{ClusterProxyProtocol.VersionKey}: v1 is a text header for TCP connections; the cluster serves the UDP route {at}, allowed: v2 or none.");
        }

        if (cluster.Destinations is null || cluster.Destinations.Count == 0)
        {
            errors.Add($"{clusterAt}:Destinations: none; the UDP route {at} needs at least one udp://HOST:PORT destination.");
            return;
        }

        foreach ((string id, DestinationConfig destination) in cluster.Destinations)
        {
            if (!UdpDestination.TryParse(destination.Address, out _))
            {
                errors.Add($"{clusterAt}:Destinations:{id}:Address: '{destination.Address}' is not a UDP destination (the cluster serves the UDP route {at}); allowed: udp://HOST:PORT.");
            }
        }
    }
}
