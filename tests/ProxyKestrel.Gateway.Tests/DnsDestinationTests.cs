using System.Net;
using Microsoft.Extensions.DependencyInjection;
using ProxyKestrel.Gateway.Tests.Infrastructure;
using Yarp.ReverseProxy;
using Yarp.ReverseProxy.Model;

namespace ProxyKestrel.Gateway.Tests;

/// <summary>
/// Destinations written with a host name (<c>tcp://HOST:PORT</c>), resolved when a client connects; on whichever
/// transport the environment selects.
/// </summary>
public class DnsDestinationTests
{
    private static string Config(params string[] destinations) => $$"""
        {
          "ReverseProxy": { "Clusters": { "c1": {
            "LoadBalancingPolicy": "FirstAlphabetical",
            "HealthCheck": { "Passive": { "Enabled": true, "ReactivationPeriod": "00:05:00" } },
            "Metadata": { "ProxyProtocol": "v2" },
            "Destinations": { {{string.Join(", ", destinations.Select((d, i) => $"\"d{i}\": {{ \"Address\": \"{d}\" }}"))}} } } } },
          "TcpProxy": { "Routes": { "r1": { "Listen": "127.0.0.1:0", "ClusterId": "c1", "ConnectTimeout": "00:00:05" } } }
        }
        """;

    [Fact]
    public async Task Relay_DestinationIsLocalhostName_BackendGetsClientAddressInProxyHeader()
    {
        await using var backend = new ProxyBackend();
        await using GatewayHost gateway = await GatewayHost.StartAsync(Config($"tcp://localhost:{backend.EndPoint.Port}"));
        IPEndPoint listen = gateway.EndPointOf("r1");

        for (int i = 0; i < 3; i++)
        {
            using var client = await Net.ConnectAsync(listen, "127.0.0.41");
            await Net.AssertEchoAsync(client, $"via a name #{i}");

            BackendConnection seen = await backend.WaitForConnectionAsync(i + 1);
            Assert.Equal(ProxyProtocolVersion.V2, seen.Version);
            Assert.Equal(client.LocalEndPoint, seen.Source);
            Assert.Equal(listen, seen.Destination);
        }

        // Resolving the name is not a failure: the destination stays healthy.
        Assert.True(gateway.Services.GetRequiredService<IProxyStateLookup>().TryGetCluster("c1", out ClusterState? cluster));
        Assert.NotEqual(DestinationHealth.Unhealthy, cluster.Destinations["d0"].Health.Passive);
        Assert.Empty(backend.Errors);
    }

    [Fact]
    public async Task Connect_FirstDestinationNameDoesNotResolve_FailsOverAndMarksItUnhealthy()
    {
        await using var backend = new ProxyBackend();
        await using GatewayHost gateway = await GatewayHost.StartAsync(Config("tcp://no-such-host.invalid:1", backend.Address));
        IPEndPoint listen = gateway.EndPointOf("r1");

        using (var client = await Net.ConnectAsync(listen, "127.0.0.42"))
        {
            await Net.AssertEchoAsync(client, "failed over from a name");
            BackendConnection seen = await backend.WaitForConnectionAsync();
            Assert.Equal(client.LocalEndPoint, seen.Source);
        }

        Assert.True(gateway.Services.GetRequiredService<IProxyStateLookup>().TryGetCluster("c1", out ClusterState? cluster));
        Assert.Equal(DestinationHealth.Unhealthy, cluster.Destinations["d0"].Health.Passive);
        Assert.Equal(["d1"], cluster.DestinationsState.AvailableDestinations.Select(d => d.DestinationId));
        Assert.Single(backend.Connections);
    }

    [Fact]
    public async Task Connect_OnlyDestinationNameDoesNotResolve_ClientClosedWithoutData()
    {
        await using GatewayHost gateway = await GatewayHost.StartAsync(Config("tcp://no-such-host.invalid:1"));

        await Net.AssertRefusedAsync(gateway.EndPointOf("r1"), "127.0.0.43", "hello"u8.ToArray());
    }

    [Fact]
    public async Task Connect_NameResolvesButNothingListens_FailsOverToNextDestination()
    {
        // localhost resolves, but to a port nobody listens on: every address of the name is tried, then the next
        // destination.
        await using var backend = new ProxyBackend();
        await using GatewayHost gateway = await GatewayHost.StartAsync(Config($"tcp://localhost:{Net.ClosedPort()}", backend.Address));

        using var client = await Net.ConnectAsync(gateway.EndPointOf("r1"), "127.0.0.44");
        await Net.AssertEchoAsync(client, "failed over from a refused name");

        Assert.True(gateway.Services.GetRequiredService<IProxyStateLookup>().TryGetCluster("c1", out ClusterState? cluster));
        Assert.Equal(DestinationHealth.Unhealthy, cluster.Destinations["d0"].Health.Passive);
        Assert.Single(backend.Connections);
    }
    [Fact]
    public async Task Connect_FirstDestinationNameTooLongToResolve_FailsOverWithoutWaitingForConnectTimeout()
    {
        // A syntactically valid name of more than 255 characters: the resolver rejects it at once (an
        // ArgumentOutOfRangeException from Dns, not a SocketException); the next destination must be tried then, not
        // after ConnectTimeout (5 s here).
        string name = string.Join('.', Enumerable.Range(0, 5).Select(i => new string((char)('a' + i), 60)));
        await using var backend = new ProxyBackend();
        await using GatewayHost gateway = await GatewayHost.StartAsync(Config($"tcp://{name}:1", backend.Address));

        using var client = await Net.ConnectAsync(gateway.EndPointOf("r1"), "127.0.0.45");
        long started = Environment.TickCount64;
        await Net.AssertEchoAsync(client, "failed over from an invalid name");
        long elapsed = Environment.TickCount64 - started;

        Assert.True(elapsed < 2_500, $"the failover took {elapsed} ms (ConnectTimeout is 5000 ms)");
        Assert.True(gateway.Services.GetRequiredService<IProxyStateLookup>().TryGetCluster("c1", out ClusterState? cluster));
        Assert.Equal(DestinationHealth.Unhealthy, cluster.Destinations["d0"].Health.Passive);
    }
}
