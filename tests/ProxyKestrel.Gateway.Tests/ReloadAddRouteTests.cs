using Microsoft.Extensions.DependencyInjection;
using ProxyKestrel.Gateway.Tests.Infrastructure;

namespace ProxyKestrel.Gateway.Tests;

public class ReloadAddRouteTests
{
    [Fact]
    public async Task Reload_RouteAdded_NewListenerAppearsAndOldOneStays()
    {
        await using var backend = new ProxyBackend();
        var clusters = new Dictionary<string, string> { ["c1"] = backend.Address };
        await using GatewayHost gateway = await GatewayHost.StartAsync(
            ReloadConfig.Json(clusters, new Dictionary<string, string> { ["r1"] = ReloadConfig.Route("c1") }));
        var r1 = gateway.EndPointOf("r1");
        var endpoints = gateway.Services.GetRequiredService<ITcpProxyEndpoints>();

        await File.WriteAllTextAsync(gateway.ConfigPath, ReloadConfig.Json(clusters, new Dictionary<string, string>
        {
            ["r1"] = ReloadConfig.Route("c1"),
            ["r2"] = ReloadConfig.Route("c1"),
        }));
        await Net.WaitUntilAsync(() => endpoints.BoundEndPoints.Any(e => e.RouteId == "r2"), "route r2 listening");

        Assert.Equal(r1, gateway.EndPointOf("r1"));
        Assert.NotEqual(r1, gateway.EndPointOf("r2"));
        using var viaR1 = await Net.ConnectAsync(r1, "127.0.0.20");
        await Net.AssertEchoAsync(viaR1, "r1");
        using var viaR2 = await Net.ConnectAsync(gateway.EndPointOf("r2"), "127.0.0.20");
        await Net.AssertEchoAsync(viaR2, "r2");
    }
}
