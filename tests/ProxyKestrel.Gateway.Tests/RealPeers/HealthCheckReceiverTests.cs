using Microsoft.Extensions.DependencyInjection;
using ProxyKestrel.Gateway.Tests.Infrastructure;
using Yarp.ReverseProxy;
using Yarp.ReverseProxy.Model;

namespace ProxyKestrel.Gateway.Tests.RealPeers;

/// <summary>
/// Active TCP health checks against a real PROXY protocol receiver: HAProxy with an <c>accept-proxy</c> HTTP frontend
/// that answers 200 on <c>/health</c> and 503 elsewhere, and a frontend on another port that takes no PROXY header.
/// The check's first reply line decides: the destination is healthy when HAProxy took the header and the request.
/// </summary>
[Collection(TimingSensitive.Name)]
public sealed class HealthCheckReceiverTests
{
    private const string Health = @"GET /health HTTP/1.1\r\nHost: probe\r\nConnection: close\r\n\r\n";

    private static string Config(string version, IReadOnlyDictionary<string, (string Request, string Address)> clusters) => $$"""
        {
          "ReverseProxy": { "Clusters": { {{string.Join(", ", clusters.Select(c => $$"""
            "{{c.Key}}": {
              "Metadata": {
                "ProxyProtocol": "{{version}}",
                "TcpHealthCheck.Enabled": "true",
                "TcpHealthCheck.Interval": "00:00:00.200",
                "TcpHealthCheck.Timeout": "00:00:02",
                "TcpHealthCheck.Request": "{{c.Value.Request}}",
                "TcpHealthCheck.Expect": "HTTP/1.1 200",
                "TcpHealthCheck.Rise": "1",
                "TcpHealthCheck.Fall": "1"
              },
              "Destinations": { "d1": { "Address": "{{c.Value.Address}}" } } }
            """))}} } },
          "TcpProxy": { "Routes": { {{string.Join(", ", clusters.Keys.Select(id => $$"""
            "{{id}}": { "Listen": "127.0.0.1:0", "ClusterId": "{{id}}" }
            """))}} } }
        }
        """;

    /// <summary>HAProxy: <c>accept-proxy</c> on <paramref name="proxied"/> (200 on /health, 503 elsewhere), no PROXY header on <paramref name="plain"/>.</summary>
    private static Task<RealPeerProcess> StartReceiverAsync(int proxied, int plain) => RealPeerProcess.StartHaproxyAsync(
        $"""
        global
          log stderr format raw local0 info

        defaults
          mode http
          log global
          timeout connect 5s
          timeout client 5s
          timeout server 5s

        frontend proxied
          bind 127.0.0.1:{proxied} accept-proxy
          http-request return status 200 content-type text/plain string up if {"{"} path /health {"}"}
          http-request return status 503 content-type text/plain string down

        frontend plain
          bind 127.0.0.1:{plain}
          http-request return status 200 content-type text/plain string up

        """,
        proxied,
        plain);

    [Fact]
    public async Task HealthCheck_V2LocalProbe_HealthyWhereHaproxyAcceptsItUnhealthyWhereItTakesNoHeader()
    {
        int proxied = FreePort.Next();
        int plain = FreePort.Next();
        await using RealPeerProcess haproxy = await StartReceiverAsync(proxied, plain);
        await using GatewayHost gateway = await GatewayHost.StartAsync(Config("v2", new Dictionary<string, (string, string)>
        {
            ["accepts"] = (Health, $"tcp://127.0.0.1:{proxied}"),
            ["rejects"] = (Health, $"tcp://127.0.0.1:{plain}"),
        }));

        // The v2 LOCAL header and the request pass HAProxy's accept-proxy: 200. The frontend that takes no header
        // reads the v2 signature as a malformed request and answers 400 (or closes): not 200.
        await WaitForHealthAsync(gateway, ("accepts", DestinationHealth.Healthy), ("rejects", DestinationHealth.Unhealthy), haproxy);
    }

    [Fact]
    public async Task HealthCheck_Request_HealthyWhenHaproxyAnswers200UnhealthyWhenItAnswers503()
    {
        int proxied = FreePort.Next();
        int plain = FreePort.Next();
        await using RealPeerProcess haproxy = await StartReceiverAsync(proxied, plain);
        string address = $"tcp://127.0.0.1:{proxied}";
        await using GatewayHost gateway = await GatewayHost.StartAsync(Config("v1", new Dictionary<string, (string, string)>
        {
            ["health"] = (Health, address),
            ["missing"] = (Health.Replace("/health", "/missing", StringComparison.Ordinal), address),
        }));

        // Same receiver, same v1 header: only the request sent differs, so it is what HAProxy answered (a check that
        // sent no request would get no answer within the timeout, and neither would be healthy).
        await WaitForHealthAsync(gateway, ("health", DestinationHealth.Healthy), ("missing", DestinationHealth.Unhealthy), haproxy);
    }

    private static async Task WaitForHealthAsync(GatewayHost gateway, (string Cluster, DestinationHealth Health) first, (string Cluster, DestinationHealth Health) second, RealPeerProcess haproxy)
    {
        IProxyStateLookup lookup = gateway.Services.GetRequiredService<IProxyStateLookup>();
        DestinationHealth Of(string cluster) => lookup.TryGetCluster(cluster, out ClusterState? state)
            ? state.Destinations["d1"].Health.Active
            : DestinationHealth.Unknown;

        long deadline = Environment.TickCount64 + 15_000;
        while (Of(first.Cluster) != first.Health || Of(second.Cluster) != second.Health)
        {
            Assert.True(
                Environment.TickCount64 < deadline,
                $"{first.Cluster}: {Of(first.Cluster)} (want {first.Health}), {second.Cluster}: {Of(second.Cluster)} (want {second.Health}) after 15 s\n--- haproxy ---\n{haproxy.Output}");
            await Task.Delay(50);
        }
    }
}
