using System.Net;
using System.Net.Sockets;
using System.Text.RegularExpressions;
using ProxyKestrel.Gateway.Tests.Infrastructure;
using ProxyKestrel.Testing;

namespace ProxyKestrel.Gateway.Tests.Observability;

/// <summary>The access log of a listener whose routes are chosen by <c>Match</c>: the chosen route, or <c>PR</c> and "-" when none matched.</summary>
public class AccessLogMatchRoutingTests
{
    private static string Config(int port, string backend) => $$"""
        {
          "ReverseProxy": { "Clusters": { "c-a": { "Metadata": { "ProxyProtocol": "v2" }, "Destinations": { "d1": { "Address": "{{backend}}" } } } } },
          "TcpProxy": { "Routes": {
            "tls-a": { "Listen": "127.0.0.1:{{port}}", "Match": { "Sni": [ "a.example.test" ] }, "ClusterId": "c-a" },
            "ssh":   { "Listen": "127.0.0.1:{{port}}", "Match": { "Protocol": [ "Ssh" ] }, "ClusterId": "c-a" } } }
        }
        """;

    [Fact]
    public async Task AccessLog_ConnectionChoosesARoute_LineNamesTheChosenRouteAndItsCluster()
    {
        var logs = new ListLoggerProvider();
        await using var backend = new ProxyBackend();
        int port = FreePort.Next();
        await using GatewayHost gateway = await GatewayHost.StartAsync(Config(port, backend.Address), logger: logs);
        byte[] hello = await ClientHellos.CaptureAsync("a.example.test");
        using Socket client = await Net.ConnectAsync(new IPEndPoint(IPAddress.Loopback, port), "127.0.0.80");
        await Net.SendAllAsync(client, hello);
        Assert.Equal(hello, await Net.ReceiveExactlyAsync(client, hello.Length));
        client.Shutdown(SocketShutdown.Send);
        await Net.AssertEofAsync(client);

        (Match line, IReadOnlyDictionary<string, object?> state) = await AccessLogTests.EntryAsync(logs);
        Assert.Equal(("tls-a", "c-a", "d1", "--"), (line.Groups["frontend"].Value, line.Groups["backend"].Value, line.Groups["server"].Value, line.Groups["termination_state"].Value));
        Assert.Equal(("tls-a", "c-a"), (state["proxykestrel.route"], state["proxykestrel.cluster"]));
        Assert.Equal((long)hello.Length, state["proxykestrel.bytes.to_server"]);
    }

    [Fact]
    public async Task AccessLog_NoRouteMatches_PRWithNoRouteAndNoServer()
    {
        var logs = new ListLoggerProvider();
        await using var backend = new ProxyBackend();
        int port = FreePort.Next();
        await using GatewayHost gateway = await GatewayHost.StartAsync(Config(port, backend.Address), logger: logs);
        using Socket client = await Net.ConnectAsync(new IPEndPoint(IPAddress.Loopback, port), "127.0.0.81");
        await Net.SendAllAsync(client, "EHLO client\r\n"u8.ToArray());
        await Net.AssertClosedWithoutDataAsync(client);

        (Match line, IReadOnlyDictionary<string, object?> state) = await AccessLogTests.EntryAsync(logs);
        Assert.Equal(("-", "-", "<NOSRV>", "PR"), (line.Groups["frontend"].Value, line.Groups["backend"].Value, line.Groups["server"].Value, line.Groups["termination_state"].Value));
        Assert.Equal("no_route", state["proxykestrel.result"]);
        Assert.Contains(logs.Entries, e => e.EventId.Id == 114 && e.Message.Contains("protocol Other", StringComparison.Ordinal));
        Assert.Empty(backend.Connections);
    }
}
