using System.Net.Sockets;
using Microsoft.Extensions.DependencyInjection;
using ProxyKestrel.Gateway.Tests.Infrastructure;

namespace ProxyKestrel.Gateway.Tests;

public class ReloadRemoveRouteTests
{
    [Fact]
    public async Task Reload_RouteRemoved_ListenerGoesAndOpenConnectionKeepsWorking()
    {
        await using var backend = new ProxyBackend();
        var clusters = new Dictionary<string, string> { ["c1"] = backend.Address };
        string twoRoutes = ReloadConfig.Json(clusters, new Dictionary<string, string>
        {
            ["r1"] = ReloadConfig.Route("c1"),
            ["r2"] = ReloadConfig.Route("c1").Replace("127.0.0.1:0", $"127.0.0.1:{FreePort.Next()}", StringComparison.Ordinal),
        });
        await using GatewayHost gateway = await GatewayHost.StartAsync(twoRoutes);
        var endpoints = gateway.Services.GetRequiredService<ITcpProxyEndpoints>();
        var r2 = gateway.EndPointOf("r2");
        using var open = await Net.ConnectAsync(r2, "127.0.0.24");
        await Net.AssertEchoAsync(open, "before");

        await File.WriteAllTextAsync(gateway.ConfigPath, ReloadConfig.Json(clusters, new Dictionary<string, string> { ["r1"] = ReloadConfig.Route("c1") }));
        await Net.WaitUntilAsync(() => endpoints.BoundEndPoints.All(e => e.RouteId != "r2"), "route r2 removed");

        SocketException refused = await Assert.ThrowsAsync<SocketException>(() => Net.ConnectAsync(r2, "127.0.0.24"));
        Assert.Equal(SocketError.ConnectionRefused, refused.SocketErrorCode);
        await Net.AssertEchoAsync(open, "after the route is gone");
        using var viaR1 = await Net.ConnectAsync(gateway.EndPointOf("r1"), "127.0.0.24");
        await Net.AssertEchoAsync(viaR1, "r1 unaffected");
    }
}
