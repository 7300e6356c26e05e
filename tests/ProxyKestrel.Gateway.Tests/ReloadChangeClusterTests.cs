using ProxyKestrel.Gateway.Tests.Infrastructure;

namespace ProxyKestrel.Gateway.Tests;

public class ReloadChangeClusterTests
{
    [Fact]
    public async Task Reload_RouteMovedToNewCluster_NewConnectionsGoThereAndOpenOneKeepsWorking()
    {
        await using var oldBackend = new ProxyBackend();
        await using var newBackend = new ProxyBackend();
        await using GatewayHost gateway = await GatewayHost.StartAsync(ReloadConfig.Json(
            new Dictionary<string, string> { ["c1"] = oldBackend.Address },
            new Dictionary<string, string> { ["r1"] = ReloadConfig.Route("c1") }));
        var listen = gateway.EndPointOf("r1");
        using var before = await Net.ConnectAsync(listen, "127.0.0.21");
        await Net.AssertEchoAsync(before, "before");

        // The new cluster arrives in the same file change as the route that uses it.
        await File.WriteAllTextAsync(gateway.ConfigPath, ReloadConfig.Json(
            new Dictionary<string, string> { ["c1"] = oldBackend.Address, ["c2"] = newBackend.Address },
            new Dictionary<string, string> { ["r1"] = ReloadConfig.Route("c2") }));

        await Net.WaitUntilAsync(
            async () =>
            {
                using var probe = await Net.ConnectAsync(listen, "127.0.0.22");
                await Net.AssertEchoAsync(probe, "probe");
                return !newBackend.Connections.IsEmpty;
            },
            "new connections reaching the new cluster");

        Assert.Equal(listen, gateway.EndPointOf("r1"));
        await Net.AssertEchoAsync(before, "old connection still relayed");
    }

    [Fact]
    public async Task Reload_DestinationAddressChanged_NewConnectionsGoToNewBackend()
    {
        await using var oldBackend = new ProxyBackend();
        await using var newBackend = new ProxyBackend();
        var routes = new Dictionary<string, string> { ["r1"] = ReloadConfig.Route("c1") };
        await using GatewayHost gateway = await GatewayHost.StartAsync(
            ReloadConfig.Json(new Dictionary<string, string> { ["c1"] = oldBackend.Address }, routes));
        var listen = gateway.EndPointOf("r1");
        using var before = await Net.ConnectAsync(listen, "127.0.0.23");
        await Net.AssertEchoAsync(before, "before");

        await File.WriteAllTextAsync(gateway.ConfigPath, ReloadConfig.Json(new Dictionary<string, string> { ["c1"] = newBackend.Address }, routes));

        await Net.WaitUntilAsync(
            async () =>
            {
                using var probe = await Net.ConnectAsync(listen, "127.0.0.23");
                await Net.AssertEchoAsync(probe, "probe");
                return !newBackend.Connections.IsEmpty;
            },
            "new connections reaching the new destination");
        await Net.AssertEchoAsync(before, "old connection still relayed");
    }
}
