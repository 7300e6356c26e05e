using System.Net.Sockets;
using Microsoft.Extensions.DependencyInjection;
using ProxyKestrel.Gateway.Admin;
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

    [Fact]
    public async Task Reload_RouteRemoved_ReadinessStaysReadyThroughout()
    {
        // Readiness compares the published routes with the bound listeners: a removed route's listener must not be
        // gone while that route is still published (it answered 503 "route r2: 0 of 1 listener(s) bound" in between).
        await using var backend = new ProxyBackend();
        var clusters = new Dictionary<string, string> { ["c1"] = backend.Address };
        var removable = Enumerable.Range(2, 8).ToDictionary(i => $"r{i}", _ => ReloadConfig.Route("c1"));
        string many = ReloadConfig.Json(clusters, new Dictionary<string, string>(removable) { ["r1"] = ReloadConfig.Route("c1") });
        await using GatewayHost gateway = await GatewayHost.StartAsync(many, services => services.AddTcpProxyReadiness());
        var readiness = gateway.Services.GetRequiredService<ITcpProxyReadiness>();
        var endpoints = gateway.Services.GetRequiredService<ITcpProxyEndpoints>();
        Assert.True(readiness.Check().IsReady, string.Join("; ", readiness.Check().Reasons));

        var notReady = new List<string>();
        using var stop = new CancellationTokenSource();
        Task polling = Task.Run(() =>
        {
            while (!stop.IsCancellationRequested)
            {
                TcpProxyReadinessReport report = readiness.Check();
                if (!report.IsReady)
                {
                    notReady.Add(string.Join("; ", report.Reasons));
                }
            }
        });

        await File.WriteAllTextAsync(gateway.ConfigPath, ReloadConfig.Json(clusters, new Dictionary<string, string> { ["r1"] = ReloadConfig.Route("c1") }));
        await Net.WaitUntilAsync(() => endpoints.BoundEndPoints.All(e => e.RouteId == "r1"), "routes r2-r9 removed");
        await stop.CancelAsync();
        await polling;
        Assert.True(notReady.Count == 0, $"not ready {notReady.Count} times during the reload, e.g.: {notReady.FirstOrDefault()}");
        Assert.True(readiness.Check().IsReady);
    }
}
