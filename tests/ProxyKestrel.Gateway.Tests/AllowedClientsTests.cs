using ProxyKestrel.Gateway.Tests.Infrastructure;

namespace ProxyKestrel.Gateway.Tests;

public class AllowedClientsTests
{
    [Fact]
    public async Task Connect_ClientOutsideAllowedClients_ClosedAtOnceAndBackendNeverContacted()
    {
        var logs = new ListLoggerProvider();
        await using var backend = new ProxyBackend();
        await using GatewayHost gateway = await GatewayHost.StartAsync(
            GatewayRelayTests.Config(backend.Address, "v2", extraRoute: ", \"AllowedClients\": [\"127.0.0.5/32\"]"), logger: logs);
        using var measurements = GatewayMeasurements.Start(gateway);

        await Net.AssertRefusedAsync(gateway.EndPointOf("r1"), "127.0.0.6", timeout: TimeSpan.FromSeconds(2));

        using var allowed = await Net.ConnectAsync(gateway.EndPointOf("r1"), "127.0.0.5");
        await Net.AssertEchoAsync(allowed, "allowed");

        Assert.Contains("client_not_allowed", measurements.Results("r1"));
        Assert.Contains(logs.Entries, e => e.EventId.Name == "ClientNotAllowed" && e.Message.Contains("127.0.0.6", StringComparison.Ordinal));
        BackendConnection seen = Assert.Single(backend.Connections);
        Assert.Equal("127.0.0.5", seen.Source!.Address.ToString());
    }
}
