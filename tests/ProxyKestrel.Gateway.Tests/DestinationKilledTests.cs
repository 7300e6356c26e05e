using ProxyKestrel.Gateway.Tests.Infrastructure;

namespace ProxyKestrel.Gateway.Tests;

public class DestinationKilledTests
{
    [Fact]
    public async Task Relay_DestinationKilledMidStream_ClientSeesCloseAndGatewayKeepsServing()
    {
        await using var backend = new ProxyBackend();
        await using GatewayHost gateway = await GatewayHost.StartAsync(GatewayRelayTests.Config(backend.Address, "v2"));
        using var measurements = GatewayMeasurements.Start(gateway);
        using var client = await Net.ConnectAsync(gateway.EndPointOf("r1"), "127.0.0.17");
        await Net.AssertEchoAsync(client, "before the crash");
        await backend.WaitForConnectionAsync();

        backend.KillConnections();

        await Net.AssertClosedAsync(client, TimeSpan.FromSeconds(3));
        await Net.WaitUntilAsync(() => measurements.Results("r1").Count == 1, "the connection counted closed");
        Assert.Equal(["reset"], measurements.Results("r1"));
        using var next = await Net.ConnectAsync(gateway.EndPointOf("r1"), "127.0.0.17");
        await Net.AssertEchoAsync(next, "after the crash");
    }
}
