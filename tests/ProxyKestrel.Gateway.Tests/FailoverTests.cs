using Microsoft.Extensions.DependencyInjection;
using ProxyKestrel.Gateway.Tests.Infrastructure;
using Yarp.ReverseProxy;
using Yarp.ReverseProxy.Model;

namespace ProxyKestrel.Gateway.Tests;

public class FailoverTests
{
    private static string Config(string first, string second) => $$"""
        {
          "ReverseProxy": { "Clusters": { "c1": {
            "LoadBalancingPolicy": "FirstAlphabetical",
            "HealthCheck": { "Passive": { "Enabled": true, "ReactivationPeriod": "00:05:00" } },
            "Metadata": { "ProxyProtocol": "v2" },
            "Destinations": { "a-dead": { "Address": "{{first}}" }, "b-live": { "Address": "{{second}}" } } } } },
          "TcpProxy": { "Routes": { "r1": { "Listen": "127.0.0.1:0", "ClusterId": "c1", "ConnectTimeout": "00:00:02" } } }
        }
        """;

    [Fact]
    public async Task Connect_FirstDestinationRefuses_FailsOverAndMarksItUnhealthy()
    {
        await using var backend = new ProxyBackend();
        await using GatewayHost gateway = await GatewayHost.StartAsync(Config($"tcp://127.0.0.1:{Net.ClosedPort()}", backend.Address));

        using (var client = await Net.ConnectAsync(gateway.EndPointOf("r1"), "127.0.0.15"))
        {
            await Net.AssertEchoAsync(client, "failed over");
        }

        Assert.True(gateway.Services.GetRequiredService<IProxyStateLookup>().TryGetCluster("c1", out ClusterState? cluster));
        DestinationState dead = cluster.Destinations["a-dead"];
        Assert.Equal(DestinationHealth.Unhealthy, dead.Health.Passive);
        Assert.Equal(["b-live"], cluster.DestinationsState.AvailableDestinations.Select(d => d.DestinationId));

        // Later connections go straight to the live destination.
        for (int i = 0; i < 3; i++)
        {
            using var client = await Net.ConnectAsync(gateway.EndPointOf("r1"), "127.0.0.15");
            await Net.AssertEchoAsync(client, $"direct {i}");
        }

        Assert.Equal(4, backend.Connections.Count);
    }

    [Fact]
    public async Task Connect_AllDestinationsDown_ClientClosedWithoutData()
    {
        var logs = new ListLoggerProvider();
        await using GatewayHost gateway = await GatewayHost.StartAsync(
            Config($"tcp://127.0.0.1:{Net.ClosedPort()}", $"tcp://127.0.0.1:{Net.ClosedPort()}"), logger: logs);
        using var measurements = GatewayMeasurements.Start(gateway);

        await Net.AssertRefusedAsync(gateway.EndPointOf("r1"), "127.0.0.16");

        // A second client (both destinations now marked unhealthy) is closed as well.
        await Net.AssertRefusedAsync(gateway.EndPointOf("r1"), "127.0.0.16");
        await Net.WaitUntilAsync(() => measurements.Results("r1").Count == 2, "both connections counted closed");
        Assert.Equal(["no_destination", "no_destination"], measurements.Results("r1"));
        Assert.Equal(2, logs.Entries.Count(e => e.EventId.Name == "NoDestination"));
        Assert.Equal(4, logs.Entries.Count(e => e.EventId.Name == "DestinationConnectFailed"));
    }
}
