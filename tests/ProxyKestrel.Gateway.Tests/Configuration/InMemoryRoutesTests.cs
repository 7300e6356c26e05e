using System.Net;
using System.Net.Sockets;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using ProxyKestrel.Gateway.Configuration;
using ProxyKestrel.Gateway.Tests.Infrastructure;

namespace ProxyKestrel.Gateway.Tests.Configuration;

/// <summary>
/// TCP routes built in code (<c>AddTcpProxy().LoadFromMemory(routes)</c>) and changed at run time with
/// <see cref="InMemoryTcpProxyConfigProvider.Update"/>; the clusters come from the JSON file (YARP's configuration).
/// </summary>
public class InMemoryRoutesTests
{
    [Fact]
    public async Task LoadFromMemory_Route_RelaysWithProxyHeader()
    {
        await using var backend = new ProxyBackend();
        await using GatewayHost gateway = await StartAsync(new() { ["c1"] = backend.Address }, [Route("r1", "c1")]);

        using Socket client = await Net.ConnectAsync(gateway.EndPointOf("r1"), "127.0.0.141");
        await Net.AssertEchoAsync(client, "in memory");

        BackendConnection seen = Assert.Single(backend.Connections);
        Assert.Equal(ProxyProtocolVersion.V2, seen.Version);
        Assert.Equal("127.0.0.141", seen.Source!.Address.ToString());
        Assert.Equal(gateway.EndPointOf("r1"), seen.Destination);
    }

    [Fact]
    public async Task Update_AddChangeAndRemoveRoutes_AppliedWithoutDroppingOpenConnections()
    {
        await using var oldBackend = new ProxyBackend();
        await using var newBackend = new ProxyBackend();
        var removedEndPoint = new IPEndPoint(IPAddress.Loopback, FreePort.Next());
        await using GatewayHost gateway = await StartAsync(
            new() { ["c1"] = oldBackend.Address, ["c2"] = newBackend.Address },
            [Route("kept", "c1"), Route("removed", "c1") with { Listen = [removedEndPoint.ToString()] }]);
        var memory = gateway.Services.GetRequiredService<InMemoryTcpProxyConfigProvider>();
        IPEndPoint kept = gateway.EndPointOf("kept");
        using Socket onKept = await Net.ConnectAsync(kept, "127.0.0.142");
        using Socket onRemoved = await Net.ConnectAsync(removedEndPoint, "127.0.0.142");
        await Net.AssertEchoAsync(onKept, "kept before");
        await Net.AssertEchoAsync(onRemoved, "removed before");

        // "kept" moves to c2 and admits one client only, "removed" goes, "added" comes.
        memory.Update([Route("kept", "c2") with { AllowedClients = ["127.0.0.143/32"] }, Route("added", "c1")]);
        await Net.WaitUntilAsync(
            () => gateway.EndPointsOf("added").Count == 1 && gateway.EndPointsOf("removed").Count == 0,
            "the update applied");

        Assert.Equal(kept, gateway.EndPointOf("kept"));
        await Net.AssertRefusedAsync(kept, "127.0.0.144", timeout: TimeSpan.FromSeconds(2));
        using (Socket allowed = await Net.ConnectAsync(kept, "127.0.0.143"))
        {
            await Net.AssertEchoAsync(allowed, "kept after");
        }

        Assert.Equal("127.0.0.143", Assert.Single(newBackend.Connections).Source!.Address.ToString());
        using (Socket onAdded = await Net.ConnectAsync(gateway.EndPointOf("added"), "127.0.0.145"))
        {
            await Net.AssertEchoAsync(onAdded, "added");
        }

        SocketException refused = await Assert.ThrowsAsync<SocketException>(() => Net.ConnectAsync(removedEndPoint, "127.0.0.142"));
        Assert.Equal(SocketError.ConnectionRefused, refused.SocketErrorCode);

        // The connections opened before the update go on, to the backend they were relayed to.
        await Net.AssertEchoAsync(onKept, "kept still open");
        await Net.AssertEchoAsync(onRemoved, "removed still open");
        Assert.Equal(3, oldBackend.Connections.Count);
    }

    [Fact]
    public async Task Update_InvalidRoutes_ThrowsListingEveryErrorAndRunningRoutesServe()
    {
        await using var backend = new ProxyBackend();
        await using GatewayHost gateway = await StartAsync(new() { ["c1"] = backend.Address }, [Route("r1", "c1")]);
        var memory = gateway.Services.GetRequiredService<InMemoryTcpProxyConfigProvider>();
        ITcpProxyConfig before = memory.GetConfig();
        IPEndPoint listen = gateway.EndPointOf("r1");
        using Socket open = await Net.ConnectAsync(listen, "127.0.0.146");
        await Net.AssertEchoAsync(open, "before");

        ArgumentException e = Assert.Throws<ArgumentException>(() => memory.Update(
        [
            Route("r1", "c1") with { Listen = ["nonsense"] },
            Route("r2", "") with { ConnectTimeout = TimeSpan.Zero },
            Route("R2", "c1") with { AllowedClients = ["10.0.0.1/8"] },
        ]));

        Assert.Contains("LoadFromMemory:Routes:r1:Listen:0: 'nonsense' is not an endpoint", e.Message);
        Assert.Contains("LoadFromMemory:Routes:r2:ClusterId: missing", e.Message);
        Assert.Contains("LoadFromMemory:Routes:r2:ConnectTimeout: 00:00:00 is out of range", e.Message);
        Assert.Contains("LoadFromMemory:Routes:R2: the route id 'R2' is also supplied by LoadFromMemory:Routes", e.Message);
        Assert.Contains("LoadFromMemory:Routes:R2:AllowedClients:0: '10.0.0.1/8' is not a network", e.Message);
        Assert.Same(before, memory.GetConfig());
        Assert.False(before.ChangeToken.HasChanged);
        Assert.Equal(listen, gateway.EndPointOf("r1"));
        await Net.AssertEchoAsync(open, "open connection unaffected");
        using Socket fresh = await Net.ConnectAsync(listen, "127.0.0.146");
        await Net.AssertEchoAsync(fresh, "new connection on the running route");
    }

    [Fact]
    public async Task Update_UnknownClusterOrTakenEndPoint_RefusedLoggedRunningRoutesServeThenValidUpdateApplies()
    {
        var logs = new ListLoggerProvider();
        await using var backend = new ProxyBackend();
        using var taken = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        taken.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        taken.Listen();
        await using GatewayHost gateway = await StartAsync(new() { ["c1"] = backend.Address }, [Route("r1", "c1")], logs);
        var memory = gateway.Services.GetRequiredService<InMemoryTcpProxyConfigProvider>();
        var manager = gateway.Services.GetRequiredService<ProxyKestrel.Gateway.Listeners.TcpProxyListenerManager>();
        IPEndPoint listen = gateway.EndPointOf("r1");
        using Socket open = await Net.ConnectAsync(listen, "127.0.0.147");
        await Net.AssertEchoAsync(open, "before");

        // Valid on its own, refused by the gateway: the cluster is not one of YARP's.
        memory.Update([Route("r1", "nope"), Route("r2", "c1")]);
        await Net.WaitUntilAsync(() => logs.Entries.Any(e => e.EventId.Id == 108), "the refusal logged (event 108)");
        var refusal = logs.Entries.First(e => e.EventId.Id == 108);
        Assert.Equal(LogLevel.Error, refusal.Level);
        Assert.Contains("LoadFromMemory:Routes:r1:ClusterId: cluster 'nope' is not defined", refusal.Message);
        Assert.Contains("cluster 'nope' is not defined", manager.ConfigError);
        Assert.Empty(gateway.EndPointsOf("r2"));

        // Refused as a whole: r2 binds, r3 cannot (its endpoint is taken), so r2 is closed again.
        memory.Update([Route("r1", "c1"), Route("r2", "c1"), Route("r3", "c1") with { Listen = [taken.LocalEndPoint!.ToString()!] }]);
        await Net.WaitUntilAsync(() => logs.Entries.Count(e => e.EventId.Id == 108) == 2, "the second refusal logged");
        Assert.Contains($"LoadFromMemory:Routes:r3:Listen: cannot listen on {taken.LocalEndPoint}", logs.Entries.Last(e => e.EventId.Id == 108).Message);
        Assert.Empty(gateway.EndPointsOf("r2"));
        Assert.Equal(listen, gateway.EndPointOf("r1"));
        await Net.AssertEchoAsync(open, "open connection unaffected");
        using (Socket fresh = await Net.ConnectAsync(listen, "127.0.0.147"))
        {
            await Net.AssertEchoAsync(fresh, "new connection on the running route");
        }

        memory.Update([Route("r1", "c1"), Route("r2", "c1")]);
        await Net.WaitUntilAsync(() => gateway.EndPointsOf("r2").Count == 1, "the valid update applied");
        Assert.Null(manager.ConfigError);
        using Socket onR2 = await Net.ConnectAsync(gateway.EndPointOf("r2"), "127.0.0.147");
        await Net.AssertEchoAsync(onR2, "r2");
    }

    [Fact]
    public async Task Start_RoutesFromConfigAndMemory_BothServed()
    {
        await using var backend = new ProxyBackend();
        string json = ReloadConfig.Json(
            new Dictionary<string, string> { ["c1"] = backend.Address },
            new Dictionary<string, string> { ["from-file"] = ReloadConfig.Route("c1") });
        await using GatewayHost gateway = await GatewayHost.StartAsync(
            json, services => services.AddTcpProxy().LoadFromMemory([Route("from-code", "c1")]));

        foreach (string route in new[] { "from-file", "from-code" })
        {
            using Socket client = await Net.ConnectAsync(gateway.EndPointOf(route), "127.0.0.148");
            await Net.AssertEchoAsync(client, route);
        }
    }

    [Fact]
    public async Task Start_SameRouteIdInConfigAndMemory_FailsNamingBoth()
    {
        string json = ReloadConfig.Json(
            new Dictionary<string, string> { ["c1"] = "tcp://127.0.0.1:1" },
            new Dictionary<string, string> { ["r1"] = ReloadConfig.Route("c1") });

        Exception e = await Assert.ThrowsAnyAsync<Exception>(() => GatewayHost.StartAsync(
            json, services => services.AddTcpProxy().LoadFromMemory([Route("r1", "c1"), Route("r2", "unknown")])));

        string message = Net.AllMessages(e);
        Assert.Contains("LoadFromMemory:Routes:r1: the route id 'r1' is also supplied by TcpProxy:Routes", message);
        Assert.Contains("LoadFromMemory:Routes:r2:ClusterId: cluster 'unknown' is not defined", message);
    }

    [Fact]
    public void LoadFromMemory_InvalidRoute_ThrowsListingEveryError()
    {
        var services = new ServiceCollection();

        ArgumentException e = Assert.Throws<ArgumentException>(() => services.AddTcpProxy().LoadFromMemory(
            [new TcpRouteConfig { RouteId = "", ClusterId = "c1" }, Route("r1", "c1") with { MaxConnections = 0, IdleTimeout = TimeSpan.FromDays(2) }]));

        Assert.Contains("LoadFromMemory:Routes:(no id):RouteId: missing", e.Message);
        Assert.Contains("LoadFromMemory:Routes:(no id):Listen: missing", e.Message);
        Assert.Contains("LoadFromMemory:Routes:r1:MaxConnections: 0 is out of range", e.Message);
        Assert.Contains("LoadFromMemory:Routes:r1:IdleTimeout: 2.00:00:00 is out of range", e.Message);
        Assert.DoesNotContain(services, d => d.ServiceType == typeof(ITcpProxyConfigProvider));
    }

    internal static TcpRouteConfig Route(string id, string clusterId) => new() { RouteId = id, Listen = ["127.0.0.1:0"], ClusterId = clusterId };

    /// <summary>A gateway with <paramref name="clusters"/> (id → backend) from its JSON file and <paramref name="routes"/> in memory.</summary>
    private static Task<GatewayHost> StartAsync(Dictionary<string, string> clusters, TcpRouteConfig[] routes, ILoggerProvider? logger = null) =>
        GatewayHost.StartAsync(
            ReloadConfig.Json(clusters, new Dictionary<string, string>()),
            services => services.AddTcpProxy().LoadFromMemory(routes),
            logger);
}
