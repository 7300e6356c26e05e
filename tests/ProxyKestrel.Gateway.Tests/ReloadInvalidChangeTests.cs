using Microsoft.Extensions.Logging;
using ProxyKestrel.Gateway.Tests.Infrastructure;
using ProxyKestrel.Gateway.Tests.Infrastructure.Transports;

namespace ProxyKestrel.Gateway.Tests;

public class ReloadInvalidChangeTests
{
    [Theory]
    [InlineData("\"Listen\": \"127.0.0.1:0\", \"ClusterId\": \"unknown\"", "cluster 'unknown' is not defined")]
    [InlineData("\"Listen\": \"127.0.0.1:0\", \"ClusterId\": \"c1\", \"MaxConnections\": \"zero\"", "'zero' is not a whole number")]
    [InlineData("\"Listen\": \"127.0.0.1:0\", \"ClusterId\": \"c1\", \"ClientTimeout\": \"00:00:00\"", "TcpProxy:Routes:r1:ClientTimeout: 00:00:00 is out of range")]
    [InlineData("\"Listen\": \"127.0.0.1:0\", \"ClusterId\": \"c1\", \"ServerTimeout\": \"soon\"", "TcpProxy:Routes:r1:ServerTimeout: 'soon' is not a time span")]
    public async Task Reload_InvalidChange_RefusedLoggedAndOldRouteKeepsWorking(string badRoute, string expected)
    {
        var logs = new ListLoggerProvider();
        await using var backend = new ProxyBackend();
        var clusters = new Dictionary<string, string> { ["c1"] = backend.Address };
        await using GatewayHost gateway = await GatewayHost.StartAsync(
            ReloadConfig.Json(clusters, new Dictionary<string, string> { ["r1"] = ReloadConfig.Route("c1") }), logger: logs);
        var listen = gateway.EndPointOf("r1");
        using var open = await Net.ConnectAsync(listen, "127.0.0.25");
        await Net.AssertEchoAsync(open, "before");

        await File.WriteAllTextAsync(gateway.ConfigPath, ReloadConfig.Json(clusters, new Dictionary<string, string>
        {
            ["r1"] = badRoute,
            ["r2"] = ReloadConfig.Route("c1"),
        }));
        await Net.WaitUntilAsync(() => logs.Entries.Any(e => e.EventId.Id == 108), "the refusal logged (event 108)");

        var refusal = logs.Entries.First(e => e.EventId.Id == 108);
        Assert.Equal(LogLevel.Error, refusal.Level);
        Assert.Contains(expected, refusal.Message);
        Assert.Equal(listen, gateway.EndPointOf("r1"));
        Assert.Empty(gateway.EndPointsOf("r2"));
        await Net.AssertEchoAsync(open, "open connection unaffected");
        using var fresh = await Net.ConnectAsync(listen, "127.0.0.25");
        await Net.AssertEchoAsync(fresh, "new connection on the old route");
    }

    [LinuxFact]
    [NotPerTransport("its JSON sets TcpProxy:Transport (Sockets, then Epoll)")]
    public async Task Reload_TransportChanged_RefusedLoggedAndRouteKeepsWorking()
    {
        var logs = new ListLoggerProvider();
        await using var backend = new ProxyBackend();
        var clusters = new Dictionary<string, string> { ["c1"] = backend.Address };
        string WithTransport(string transport) =>
            ReloadConfig.Json(clusters, new Dictionary<string, string> { ["r1"] = ReloadConfig.Route("c1") })
                .Replace("\"TcpProxy\": {", $"\"TcpProxy\": {{ \"Transport\": \"{transport}\",", StringComparison.Ordinal);
        await using GatewayHost gateway = await GatewayHost.StartAsync(WithTransport("Sockets"), logger: logs);
        var listen = gateway.EndPointOf("r1");
        using var open = await Net.ConnectAsync(listen, "127.0.0.26");
        await Net.AssertEchoAsync(open, "before");

        await File.WriteAllTextAsync(gateway.ConfigPath, WithTransport("Epoll"));
        await Net.WaitUntilAsync(() => logs.Entries.Any(e => e.EventId.Id == 108), "the refusal logged (event 108)");

        var refusal = logs.Entries.First(e => e.EventId.Id == 108);
        Assert.Equal(LogLevel.Error, refusal.Level);
        Assert.Contains("TcpProxy:Transport: changed from Sockets to Epoll while running", refusal.Message);
        Assert.Equal(listen, gateway.EndPointOf("r1"));
        await Net.AssertEchoAsync(open, "open connection unaffected");
        using var fresh = await Net.ConnectAsync(listen, "127.0.0.26");
        await Net.AssertEchoAsync(fresh, "new connection on the same transport");
    }
}
