namespace ProxyKestrel.Gateway.Tests.Infrastructure;

/// <summary>Gateway configuration files for the reload tests.</summary>
internal static class ReloadConfig
{
    /// <summary>Clusters (id → backend address, all v2) and routes (id → the route's JSON body).</summary>
    public static string Json(IReadOnlyDictionary<string, string> clusters, IReadOnlyDictionary<string, string> routes) => $$"""
        {
          "ReverseProxy": { "Clusters": { {{string.Join(", ", clusters.Select(c => $$"""
            "{{c.Key}}": { "Metadata": { "ProxyProtocol": "v2" }, "Destinations": { "d1": { "Address": "{{c.Value}}" } } }
            """))}} } },
          "TcpProxy": { "Routes": { {{string.Join(", ", routes.Select(r => $"\"{r.Key}\": {{ {r.Value} }}"))}} } }
        }
        """;

    public static string Route(string clusterId, string extra = "") => $"\"Listen\": \"127.0.0.1:0\", \"ClusterId\": \"{clusterId}\"{extra}";
}
