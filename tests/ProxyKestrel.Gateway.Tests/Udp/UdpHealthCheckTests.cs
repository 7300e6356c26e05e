using System.Net;
using Microsoft.Extensions.DependencyInjection;
using ProxyKestrel.Gateway.Tests.Infrastructure;
using ProxyKestrel.Gateway.Tests.RealPeers;
using Yarp.ReverseProxy;
using Yarp.ReverseProxy.Model;

namespace ProxyKestrel.Gateway.Tests.Udp;

/// <summary>Active health checks of UDP destinations: one datagram (after the v2 LOCAL header), one expected reply.</summary>
public sealed class UdpHealthCheckTests
{
    [Fact]
    public async Task ActiveCheck_DestinationThatDoesNotAnswer_UnhealthyAndNewSessionsGoToTheOther()
    {
        await using UdpBackend silent = UdpBackend.Start("a-silent", silent: true);
        await using UdpBackend up = UdpBackend.Start("b-up");
        string json = $$"""
        {
          "ReverseProxy": { "Clusters": { "dns": { "LoadBalancingPolicy": "FirstAlphabetical",
            "Metadata": { "ProxyProtocol": "v2", "TcpHealthCheck.Enabled": "true", "TcpHealthCheck.Interval": "00:00:00.2",
              "TcpHealthCheck.Timeout": "00:00:00.3", "TcpHealthCheck.Request": "probe", "TcpHealthCheck.Expect": "b-up ",
              "TcpHealthCheck.Rise": "1", "TcpHealthCheck.Fall": "1" },
            "Destinations": { "a-silent": { "Address": "{{silent.Address}}" }, "b-up": { "Address": "{{up.Address}}" } } } } },
          "UdpProxy": { "Routes": { "dns": { "Listen": [ "127.0.0.1:0" ], "ClusterId": "dns" } } }
        }
        """;
        await using GatewayHost gateway = await GatewayHost.StartAsync(json);
        var clusters = gateway.Services.GetRequiredService<IProxyStateLookup>();
        Assert.True(clusters.TryGetCluster("dns", out ClusterState? cluster));

        await Net.WaitUntilAsync(
            () => cluster.Destinations["a-silent"].Health.Active == DestinationHealth.Unhealthy && cluster.Destinations["b-up"].Health.Active == DestinationHealth.Healthy,
            "a-silent unhealthy and b-up healthy by the UDP probe");
        using var client = new UdpTestClient(gateway.UdpEndPointOf("dns"), "127.0.0.2");

        Assert.StartsWith("b-up 127.0.0.2 ", await client.ExchangeAsync("query"));

        // The probes: a LOCAL header, then the request bytes.
        UdpBackend.Received probe = silent.Datagrams.First();
        Assert.Equal(ProxyCommand.Local, probe.Command);
        Assert.Equal("probe"u8.ToArray(), probe.Payload);
    }

    [Fact]
    public async Task ActiveCheck_DnsQueryToUnbound_Healthy()
    {
        await using UnboundPeer unbound = await UnboundPeer.StartAsync("udp-health", ["127.0.0.1/32"]);
        // A query for hello.pk.test. A IN with id 0x4242, in \xNN escapes; the answer starts with the same id.
        string query = string.Concat(DnsQuery.BuildA(PkTestZone.HelloName, 0x4242).Select(b => $"\\\\x{b:X2}"));
        string json = $$"""
        {
          "ReverseProxy": { "Clusters": { "dns": {
            "Metadata": { "ProxyProtocol": "v2", "TcpHealthCheck.Enabled": "true", "TcpHealthCheck.Interval": "00:00:00.2",
              "TcpHealthCheck.Request": "{{query}}", "TcpHealthCheck.Expect": "\\x42\\x42", "TcpHealthCheck.Rise": "1" },
            "Destinations": { "d1": { "Address": "udp://127.0.0.1:{{unbound.Port}}" } } } } },
          "UdpProxy": { "Routes": { "dns": { "Listen": [ "127.0.0.1:0" ], "ClusterId": "dns" } } }
        }
        """;
        await using GatewayHost gateway = await GatewayHost.StartAsync(json);
        Assert.True(gateway.Services.GetRequiredService<IProxyStateLookup>().TryGetCluster("dns", out ClusterState? cluster));

        await Net.WaitUntilAsync(() => cluster.Destinations["d1"].Health.Active == DestinationHealth.Healthy, "d1 healthy by a DNS probe");
        await unbound.WaitForLogAsync("info: 127.0.0.1 hello.pk.test. A IN");
    }

    [Fact]
    public async Task Start_UdpClusterCheckWithoutRequest_FailsNamingTheKey()
    {
        const string json = """
        {
          "ReverseProxy": { "Clusters": { "dns": { "Metadata": { "TcpHealthCheck.Enabled": "true", "TcpHealthCheck.Send": "QUIT" },
            "Destinations": { "d1": { "Address": "udp://127.0.0.1:5301" } } } } },
          "UdpProxy": { "Routes": { "dns": { "Listen": [ "127.0.0.1:0" ], "ClusterId": "dns" } } }
        }
        """;

        Exception e = await Assert.ThrowsAnyAsync<Exception>(() => GatewayHost.StartAsync(json));

        string message = Net.AllMessages(e);
        Assert.Contains("ReverseProxy:Clusters:dns:Metadata:TcpHealthCheck.Request: missing; a UDP destination is checked with a datagram", message, StringComparison.Ordinal);
        Assert.Contains("ReverseProxy:Clusters:dns:Metadata:TcpHealthCheck.Send: does not apply to UDP destinations", message, StringComparison.Ordinal);
    }
}
