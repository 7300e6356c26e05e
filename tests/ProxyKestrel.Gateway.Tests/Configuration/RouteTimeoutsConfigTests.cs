using System.Net.Sockets;
using System.Text;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using ProxyKestrel.Gateway.Configuration;
using ProxyKestrel.Gateway.Listeners;
using ProxyKestrel.Gateway.Routing;
using ProxyKestrel.Gateway.Tests.Infrastructure;

namespace ProxyKestrel.Gateway.Tests.Configuration;

/// <summary>
/// A route's <c>ClientTimeout</c> and <c>ServerTimeout</c> (HAProxy's <c>timeout client</c> / <c>timeout server</c>)
/// and <c>IdleTimeout</c>, the shorthand for both: reading, the effective value of each side, validation (start-up,
/// code-first routes, reload).
/// </summary>
public class RouteTimeoutsConfigTests
{
    public static TheoryData<string> SideKeys => new() { "ClientTimeout", "ServerTimeout" };

    [Fact]
    public void Read_ClientAndServerTimeout_BothRead()
    {
        var errors = new List<string>();

        TcpRouteConfig route = ReadRoute("""
            "IdleTimeout": "00:03:00", "ClientTimeout": "00:01:00", "ServerTimeout": "00:02:30"
            """, errors);

        Assert.Empty(errors);
        Assert.Equal(TimeSpan.FromMinutes(1), route.ClientTimeout);
        Assert.Equal(TimeSpan.FromSeconds(150), route.ServerTimeout);
        Assert.Equal(TimeSpan.FromMinutes(1), route.ClientIdleTimeout);
        Assert.Equal(TimeSpan.FromSeconds(150), route.ServerIdleTimeout);
        Assert.Equal(TimeSpan.FromMinutes(3), route.IdleTimeout);
    }

    [Fact]
    public void Read_KeysInAnyCase_Read()
    {
        var errors = new List<string>();

        TcpRouteConfig route = ReadRoute("""
            "clienttimeout": "00:00:10", "SERVERTIMEOUT": "00:00:20"
            """, errors);

        Assert.Empty(errors);
        Assert.Equal(TimeSpan.FromSeconds(10), route.ClientIdleTimeout);
        Assert.Equal(TimeSpan.FromSeconds(20), route.ServerIdleTimeout);
    }

    [Fact]
    public void Read_IdleTimeoutAlone_SetsBothEffectiveTimeouts()
    {
        var errors = new List<string>();

        TcpRouteConfig route = ReadRoute("""
            "IdleTimeout": "00:07:00"
            """, errors);

        Assert.Empty(errors);
        Assert.Null(route.ClientTimeout);
        Assert.Null(route.ServerTimeout);
        Assert.Equal(TimeSpan.FromMinutes(7), route.ClientIdleTimeout);
        Assert.Equal(TimeSpan.FromMinutes(7), route.ServerIdleTimeout);
    }

    [Fact]
    public void Read_NoTimeouts_BothSidesTakeTheDefaultIdleTimeout()
    {
        var errors = new List<string>();

        TcpRouteConfig route = ReadRoute(string.Empty, errors);

        Assert.Empty(errors);
        Assert.Equal(TimeSpan.FromMinutes(1), TcpRouteConfig.DefaultIdleTimeout);
        Assert.Equal(TcpRouteConfig.DefaultIdleTimeout, route.ClientIdleTimeout);
        Assert.Equal(TcpRouteConfig.DefaultIdleTimeout, route.ServerIdleTimeout);
    }

    [Fact]
    public void Read_ClientTimeoutOnly_OverridesOnlyTheClientSide()
    {
        var errors = new List<string>();

        TcpRouteConfig route = ReadRoute("""
            "IdleTimeout": "00:05:00", "ClientTimeout": "00:00:30"
            """, errors);

        Assert.Empty(errors);
        Assert.Equal(TimeSpan.FromSeconds(30), route.ClientIdleTimeout);
        Assert.Equal(TimeSpan.FromMinutes(5), route.ServerIdleTimeout);
        Assert.Null(route.ServerTimeout);
    }

    [Fact]
    public void Read_ServerTimeoutOnly_OverridesOnlyTheServerSide()
    {
        var errors = new List<string>();

        TcpRouteConfig route = ReadRoute("""
            "ServerTimeout": "00:10:00", "IdleTimeout": "00:05:00"
            """, errors);

        Assert.Empty(errors);
        Assert.Equal(TimeSpan.FromMinutes(5), route.ClientIdleTimeout);
        Assert.Equal(TimeSpan.FromMinutes(10), route.ServerIdleTimeout);
        Assert.Null(route.ClientTimeout);
    }

    [Fact]
    public void ConfigInCode_EachSideOverridesOnlyItself()
    {
        var idleOnly = new TcpRouteConfig { RouteId = "r", IdleTimeout = TimeSpan.FromMinutes(4) };

        Assert.Equal(TimeSpan.FromMinutes(4), idleOnly.ClientIdleTimeout);
        Assert.Equal(TimeSpan.FromMinutes(4), idleOnly.ServerIdleTimeout);
        Assert.Equal(TimeSpan.FromSeconds(9), (idleOnly with { ClientTimeout = TimeSpan.FromSeconds(9) }).ClientIdleTimeout);
        Assert.Equal(TimeSpan.FromMinutes(4), (idleOnly with { ClientTimeout = TimeSpan.FromSeconds(9) }).ServerIdleTimeout);
        Assert.Equal(TimeSpan.FromMinutes(4), (idleOnly with { ServerTimeout = TimeSpan.FromSeconds(9) }).ClientIdleTimeout);
        Assert.Equal(TimeSpan.FromSeconds(9), (idleOnly with { ServerTimeout = TimeSpan.FromSeconds(9) }).ServerIdleTimeout);
    }

    [Theory]
    [MemberData(nameof(SideKeys))]
    public void Read_UnparsableSideTimeout_ReportsKeyValueAndAllowedForm(string key)
    {
        var errors = new List<string>();

        TcpRouteConfig route = ReadRoute($$"""
            "IdleTimeout": "00:02:00", "{{key}}": "5 minutes"
            """, errors);

        string error = Assert.Single(errors);
        Assert.Equal($"TcpProxy:Routes:r1:{key}: '5 minutes' is not a time span; allowed: hh:mm:ss, e.g. 00:00:05.", error);
        Assert.Equal(TimeSpan.FromMinutes(2), route.ClientIdleTimeout);
        Assert.Equal(TimeSpan.FromMinutes(2), route.ServerIdleTimeout);
    }

    [Theory]
    [InlineData("ClientTimeout", "00:00:00")]
    [InlineData("ClientTimeout", "-00:00:01")]
    [InlineData("ClientTimeout", "1.00:00:00.0010000")]
    [InlineData("ServerTimeout", "00:00:00")]
    [InlineData("ServerTimeout", "-1.00:00:00")]
    [InlineData("ServerTimeout", "2.00:00:00")]
    public void Validate_SideTimeoutOutOfRange_ReportsKeyValueAndAllowedRange(string key, string value)
    {
        TimeSpan timeout = TimeSpan.Parse(value, System.Globalization.CultureInfo.InvariantCulture);
        TcpRouteConfig route = Route("r1") with
        {
            ClientTimeout = key == "ClientTimeout" ? timeout : null,
            ServerTimeout = key == "ServerTimeout" ? timeout : null,
        };
        var errors = new List<string>();

        TcpProxyConfigValidator.Validate(new TcpProxyConfig { Routes = [route] }, clusterExists: null, errors);

        string error = Assert.Single(errors);
        Assert.Equal(
            $"TcpProxy:Routes:r1:{key}: {timeout:c} is out of range; allowed: more than 00:00:00, up to 1.00:00:00 (omit to use IdleTimeout).",
            error);
    }

    [Theory]
    [InlineData("00:00:00.0010000")]
    [InlineData("00:01:00")]
    [InlineData("1.00:00:00")]
    public void Validate_SideTimeoutsInRange_Accepted(string value)
    {
        TimeSpan timeout = TimeSpan.Parse(value, System.Globalization.CultureInfo.InvariantCulture);
        var errors = new List<string>();

        TcpProxyConfigValidator.Validate(
            new TcpProxyConfig { Routes = [Route("r1") with { ClientTimeout = timeout, ServerTimeout = timeout }] }, clusterExists: null, errors);

        Assert.Empty(errors);
    }

    [Fact]
    public void Validate_SideTimeoutsSetAndIdleTimeoutOutOfRange_IdleTimeoutStillReported()
    {
        var errors = new List<string>();

        TcpProxyConfigValidator.Validate(
            new TcpProxyConfig
            {
                Routes = [Route("r1") with { IdleTimeout = TimeSpan.Zero, ClientTimeout = TimeSpan.FromMinutes(1), ServerTimeout = TimeSpan.FromMinutes(1) }],
            },
            clusterExists: null,
            errors);

        Assert.Equal("TcpProxy:Routes:r1:IdleTimeout: 00:00:00 is out of range; allowed: more than 00:00:00, up to 1.00:00:00.", Assert.Single(errors));
    }

    [Fact]
    public async Task Start_BadSideTimeoutsInJson_FailsListingEveryErrorWithTheOthers()
    {
        const string json = """
            {
              "ReverseProxy": { "Clusters": { "c1": {
                "Destinations": { "d1": { "Address": "tcp://127.0.0.1:1" } } } } },
              "TcpProxy": { "Routes": {
                "client-text": { "Listen": "127.0.0.1:0", "ClusterId": "c1", "ClientTimeout": "soon" },
                "server-text": { "Listen": "127.0.0.1:0", "ClusterId": "c1", "ServerTimeout": "later" },
                "client-range": { "Listen": "127.0.0.1:0", "ClusterId": "c1", "ClientTimeout": "00:00:00" },
                "server-range": { "Listen": "127.0.0.1:0", "ClusterId": "c1", "ServerTimeout": "2.00:00:00" },
                "other": { "Listen": "nonsense", "ClusterId": "c1", "IdleTimeout": "00:00:00" } } }
            }
            """;

        Exception e = await Assert.ThrowsAnyAsync<Exception>(() => GatewayHost.StartAsync(json));

        string message = Net.AllMessages(e);
        Assert.Contains("TcpProxy:Routes:client-text:ClientTimeout: 'soon' is not a time span; allowed: hh:mm:ss", message);
        Assert.Contains("TcpProxy:Routes:server-text:ServerTimeout: 'later' is not a time span; allowed: hh:mm:ss", message);
        Assert.Contains("TcpProxy:Routes:client-range:ClientTimeout: 00:00:00 is out of range; allowed: more than 00:00:00, up to 1.00:00:00", message);
        Assert.Contains("TcpProxy:Routes:server-range:ServerTimeout: 2.00:00:00 is out of range; allowed: more than 00:00:00, up to 1.00:00:00", message);
        Assert.Contains("TcpProxy:Routes:other:Listen:0: 'nonsense' is not an endpoint", message);
        Assert.Contains("TcpProxy:Routes:other:IdleTimeout: 00:00:00 is out of range", message);
    }

    [Fact]
    public async Task Start_SideTimeoutsInJson_RunningRouteHasThem()
    {
        await using var backend = new ProxyBackend();
        await using GatewayHost gateway = await GatewayHost.StartAsync(ReloadConfig.Json(
            new Dictionary<string, string> { ["c1"] = backend.Address },
            new Dictionary<string, string> { ["r1"] = ReloadConfig.Route("c1", ", \"IdleTimeout\": \"00:04:00\", \"ServerTimeout\": \"00:00:45\"") }));

        TcpRouteConfig running = Assert.Single(gateway.Services.GetRequiredService<TcpProxyListenerManager>().Routes);
        Assert.Equal(TimeSpan.FromMinutes(4), running.ClientIdleTimeout);
        Assert.Equal(TimeSpan.FromSeconds(45), running.ServerIdleTimeout);
        using Socket client = await Net.ConnectAsync(gateway.EndPointOf("r1"), "127.0.0.150");
        await Net.AssertEchoAsync(client, "side timeouts");
    }

    [Fact]
    public void LoadFromMemory_SideTimeoutsOutOfRange_ThrowsListingEveryError()
    {
        var services = new ServiceCollection();

        ArgumentException e = Assert.Throws<ArgumentException>(() => services.AddTcpProxy().LoadFromMemory(
        [
            Route("r1") with { ClientTimeout = TimeSpan.Zero },
            Route("r2") with { ServerTimeout = TimeSpan.FromDays(3), MaxConnections = 0 },
        ]));

        Assert.Contains("LoadFromMemory:Routes:r1:ClientTimeout: 00:00:00 is out of range; allowed: more than 00:00:00, up to 1.00:00:00", e.Message);
        Assert.Contains("LoadFromMemory:Routes:r2:ServerTimeout: 3.00:00:00 is out of range; allowed: more than 00:00:00, up to 1.00:00:00", e.Message);
        Assert.Contains("LoadFromMemory:Routes:r2:MaxConnections: 0 is out of range", e.Message);
        Assert.DoesNotContain(services, d => d.ServiceType == typeof(ITcpProxyConfigProvider));
    }

    [Fact]
    public async Task LoadFromMemory_SideTimeoutsInRange_AcceptedAndUpdateRefusesBadOnes()
    {
        await using var backend = new ProxyBackend();
        TcpRouteConfig route = InMemoryRoutesTests.Route("r1", "c1") with { ClientTimeout = TimeSpan.FromMinutes(1), ServerTimeout = TimeSpan.FromMinutes(2) };
        await using GatewayHost gateway = await GatewayHost.StartAsync(
            ReloadConfig.Json(new Dictionary<string, string> { ["c1"] = backend.Address }, new Dictionary<string, string>()),
            services => services.AddTcpProxy().LoadFromMemory([route]));
        var manager = gateway.Services.GetRequiredService<TcpProxyListenerManager>();
        var memory = gateway.Services.GetRequiredService<InMemoryTcpProxyConfigProvider>();

        TcpRouteConfig running = Assert.Single(manager.Routes);
        Assert.Equal(TimeSpan.FromMinutes(1), running.ClientIdleTimeout);
        Assert.Equal(TimeSpan.FromMinutes(2), running.ServerIdleTimeout);

        ArgumentException e = Assert.Throws<ArgumentException>(() => memory.Update([route with { ServerTimeout = TimeSpan.FromTicks(-1) }]));
        Assert.Contains("LoadFromMemory:Routes:r1:ServerTimeout: -00:00:00.0000001 is out of range", e.Message);
        Assert.Same(running, Assert.Single(manager.Routes));
        using Socket client = await Net.ConnectAsync(gateway.EndPointOf("r1"), "127.0.0.151");
        await Net.AssertEchoAsync(client, "code-first side timeouts");
    }

    [Fact]
    public async Task Reload_SideTimeoutsChanged_AppliedToTheRouteAsIdleTimeoutIs()
    {
        await using var backend = new ProxyBackend();
        var clusters = new Dictionary<string, string> { ["c1"] = backend.Address };
        await using GatewayHost gateway = await GatewayHost.StartAsync(
            ReloadConfig.Json(clusters, new Dictionary<string, string> { ["r1"] = ReloadConfig.Route("c1", ", \"IdleTimeout\": \"00:03:00\"") }));
        var manager = gateway.Services.GetRequiredService<TcpProxyListenerManager>();
        var listen = gateway.EndPointOf("r1");
        using Socket open = await Net.ConnectAsync(listen, "127.0.0.152");
        await Net.AssertEchoAsync(open, "before");

        await File.WriteAllTextAsync(gateway.ConfigPath, ReloadConfig.Json(clusters, new Dictionary<string, string>
        {
            ["r1"] = ReloadConfig.Route("c1", ", \"IdleTimeout\": \"00:03:00\", \"ClientTimeout\": \"00:00:40\", \"ServerTimeout\": \"00:08:00\""),
        }));
        await Net.WaitUntilAsync(() => manager.Routes is [{ ClientTimeout: not null }], "the reload applied");

        TcpRouteConfig running = Assert.Single(manager.Routes);
        Assert.Equal(TimeSpan.FromSeconds(40), running.ClientIdleTimeout);
        Assert.Equal(TimeSpan.FromMinutes(8), running.ServerIdleTimeout);
        Assert.Equal(listen, gateway.EndPointOf("r1"));
        await Net.AssertEchoAsync(open, "open connection unaffected");

        // Back to the shorthand alone: both sides follow IdleTimeout again.
        await File.WriteAllTextAsync(gateway.ConfigPath, ReloadConfig.Json(clusters, new Dictionary<string, string>
        {
            ["r1"] = ReloadConfig.Route("c1", ", \"IdleTimeout\": \"00:02:00\""),
        }));
        await Net.WaitUntilAsync(() => manager.Routes is [{ IdleTimeout.TotalMinutes: 2 }], "the second reload applied");

        running = Assert.Single(manager.Routes);
        Assert.Equal(TimeSpan.FromMinutes(2), running.ClientIdleTimeout);
        Assert.Equal(TimeSpan.FromMinutes(2), running.ServerIdleTimeout);
        using Socket fresh = await Net.ConnectAsync(listen, "127.0.0.152");
        await Net.AssertEchoAsync(fresh, "after");
    }

    private static TcpRouteConfig Route(string id) => new() { RouteId = id, Listen = ["127.0.0.1:0"], ClusterId = "c1" };

    /// <summary>Reads route <c>r1</c> (Listen and ClusterId set) with <paramref name="keys"/> added, as the JSON file is read.</summary>
    private static TcpRouteConfig ReadRoute(string keys, List<string> errors)
    {
        string json = $$"""
            { "TcpProxy": { "Routes": { "r1": { "Listen": "127.0.0.1:0", "ClusterId": "c1"{{(keys.Length > 0 ? ", " + keys : "")}} } } } }
            """;
        using var stream = new MemoryStream(Encoding.UTF8.GetBytes(json));
        IConfigurationSection section = new ConfigurationBuilder().AddJsonStream(stream).Build().GetSection(TcpProxyConfig.SectionName);
        return Assert.Single(TcpProxyConfigReader.Read(section, errors).Routes);
    }
}
