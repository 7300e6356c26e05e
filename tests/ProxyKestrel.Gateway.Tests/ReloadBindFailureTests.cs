using System.Net;
using System.Net.Sockets;
using Microsoft.Extensions.Logging;
using ProxyKestrel.Gateway.Tests.Infrastructure;

namespace ProxyKestrel.Gateway.Tests;

public class ReloadBindFailureTests
{
    [Fact]
    public async Task Reload_NewListenerCannotBind_WholeChangeRefusedAndOldRoutesKeepServing()
    {
        var logs = new ListLoggerProvider();
        await using var backend = new ProxyBackend();
        var clusters = new Dictionary<string, string> { ["c1"] = backend.Address };
        await using GatewayHost gateway = await GatewayHost.StartAsync(
            ReloadConfig.Json(clusters, new Dictionary<string, string>
            {
                ["removed"] = ReloadConfig.Route("c1"),
                ["changed"] = ReloadConfig.Route("c1"),
            }),
            logger: logs);
        IPEndPoint removed = gateway.EndPointOf("removed");
        IPEndPoint changed = gateway.EndPointOf("changed");
        using var open = await Net.ConnectAsync(removed, "127.0.0.27");
        await Net.AssertEchoAsync(open, "before");

        // Another socket listens on the port the new route wants.
        using var taken = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        taken.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        taken.Listen(1);
        int port = ((IPEndPoint)taken.LocalEndPoint!).Port;
        string reloaded = ReloadConfig.Json(clusters, new Dictionary<string, string>
        {
            ["changed"] = ReloadConfig.Route("c1", ", \"AllowedClients\": [\"127.0.0.99/32\"]"),
            ["added"] = $"\"Listen\": \"127.0.0.1:{port}\", \"ClusterId\": \"c1\"",
        });
        int stoppedBefore = logs.Entries.Count(e => e.EventId.Id == 101);
        await File.WriteAllTextAsync(gateway.ConfigPath, reloaded);
        await Net.WaitUntilAsync(() => logs.Entries.Any(e => e.EventId.Id == 108), "the refusal logged (event 108)");

        // Refused as a whole, saying why: the route removed still listens, the route changed keeps its old settings
        // (no AllowedClients), the route added does not listen, and no listener stopped.
        var refusal = logs.Entries.First(e => e.EventId.Id == 108);
        Assert.Equal(LogLevel.Error, refusal.Level);
        Assert.Contains("the previous configuration stays", refusal.Message, StringComparison.Ordinal);
        Assert.Contains($"TcpProxy:Routes:added:Listen: cannot listen on 127.0.0.1:{port}", refusal.Message, StringComparison.Ordinal);
        Assert.Equal(stoppedBefore, logs.Entries.Count(e => e.EventId.Id == 101));
        Assert.Equal(removed, gateway.EndPointOf("removed"));
        Assert.Equal(changed, gateway.EndPointOf("changed"));
        Assert.Empty(gateway.EndPointsOf("added"));
        await Net.AssertEchoAsync(open, "open connection unaffected");
        using (var fresh = await Net.ConnectAsync(removed, "127.0.0.27"))
        {
            await Net.AssertEchoAsync(fresh, "new connection on the route the refused change removed");
        }

        using (var client = await Net.ConnectAsync(changed, "127.0.0.27"))
        {
            await Net.AssertEchoAsync(client, "the route the refused change narrowed still admits everyone");
        }

        // Once the port is free, the same change applies in full.
        taken.Close();
        int appliedBefore = logs.Entries.Count(e => e.EventId.Id == 109);
        await File.WriteAllTextAsync(gateway.ConfigPath, reloaded);
        await Net.WaitUntilAsync(() => logs.Entries.Count(e => e.EventId.Id == 109) > appliedBefore, "the change applied (event 109)");
        Assert.Empty(gateway.EndPointsOf("removed"));
        Assert.Equal(new IPEndPoint(IPAddress.Loopback, port), gateway.EndPointOf("added"));
        await Net.AssertRefusedAsync(gateway.EndPointOf("changed"), "127.0.0.27");
        using var added = await Net.ConnectAsync(gateway.EndPointOf("added"), "127.0.0.27");
        await Net.AssertEchoAsync(added, "added");
    }
}
