using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using ProxyKestrel.Gateway.Tests.Infrastructure;

namespace ProxyKestrel.Gateway.Tests.Observability;

/// <summary>
/// The sample gateway's Prometheus endpoint (admin port): after one relayed connection and one refused by
/// AllowedClients, the gateway's instruments appear with the right labels and values, next to Kestrel's.
/// </summary>
public class GatewayMetricsTests
{
    [Fact]
    public async Task Metrics_AfterRelayedAndRefusedConnections_ScrapeShowsGatewayInstruments()
    {
        await using var backend = new EchoBackend();
        JsonObject config = ObservedGateway.Config(backend.Port, new JsonObject
        {
            ["open"] = ObservedGateway.Route(),
            ["guarded"] = new JsonObject
            {
                ["Listen"] = "127.0.0.1:0",
                ["ClusterId"] = "backend",
                ["AllowedClients"] = new JsonArray("10.0.0.0/8"),
            },
        });
        await using ObservedGateway gateway = await ObservedGateway.StartAsync(config, "open", "guarded");
        int openPort = gateway.RoutePorts["open"];
        int guardedPort = gateway.RoutePorts["guarded"];

        using (Socket relayed = await Tcp.ConnectAsync(openPort))
        {
            Assert.Equal("ping", await Tcp.EchoAsync(relayed, "ping"));
            relayed.Shutdown(SocketShutdown.Send);
            Assert.True(await Tcp.ClosedByPeerAsync(relayed, TimeSpan.FromSeconds(5)));
        }

        // The gateway resets a refused client at once; that reset may reach the client while it is still
        // connecting, which counts as refused too.
        await Net.AssertRefusedAsync(new IPEndPoint(IPAddress.Loopback, guardedPort), from: "127.0.0.1");

        string completed = Series("proxykestrel_tcp_connections_total", ("proxykestrel_route", "open"), ("proxykestrel_result", "completed"));
        string notAllowed = Series("proxykestrel_tcp_connections_total", ("proxykestrel_route", "guarded"), ("proxykestrel_result", "client_not_allowed"));
        string text = await gateway.ScrapeUntilAsync(t => Value(t, completed) >= 1 && Value(t, notAllowed) >= 1);

        Assert.True(Value(text, completed) == 1, text);
        Assert.True(Value(text, notAllowed) == 1, text);
        Assert.True(Value(text, Series("proxykestrel_tcp_bytes_total", ("proxykestrel_route", "open"), ("network_io_direction", "transmit"))) == 4, text);
        Assert.True(Value(text, Series("proxykestrel_tcp_bytes_total", ("proxykestrel_route", "open"), ("network_io_direction", "receive"))) == 4, text);
        Assert.True(Value(text, Series("proxykestrel_tcp_connection_duration_seconds_count", ("proxykestrel_route", "open"), ("proxykestrel_result", "completed"))) == 1, text);
        Assert.True(Value(text, Series("proxykestrel_tcp_active_connections", ("proxykestrel_route", "open"))) == 0, text);
        Assert.Contains("# TYPE proxykestrel_tcp_connections_total counter", text, StringComparison.Ordinal);
        Assert.Contains("# TYPE proxykestrel_tcp_connection_duration_seconds histogram", text, StringComparison.Ordinal);

        // Kestrel's meter (the admin requests themselves) and the runtime's are exported too.
        Assert.Contains("kestrel_active_connections{", text, StringComparison.Ordinal);
        Assert.Contains("dotnet_gc_collections_total", text, StringComparison.Ordinal);

        // The admin port serves nothing else.
        Assert.Equal(HttpStatusCode.NotFound, (await gateway.GetAdminAsync("/")).Status);
    }

    /// <summary>A regex for one series: the metric name and the given labels (others may come between them).</summary>
    internal static string Series(string name, params (string Label, string Value)[] labels) =>
        "^" + Regex.Escape(name) + @"\{" + string.Concat(labels.Select(l => $@"(?=[^}}]*\b{Regex.Escape(l.Label)}=""{Regex.Escape(l.Value)}"")")) + @"[^}]*\} (\S+)";

    /// <summary>The value of the first series matching <paramref name="series"/>, or -1.</summary>
    internal static double Value(string text, string series)
    {
        Match m = Regex.Match(text, series, RegexOptions.Multiline);
        return m.Success ? double.Parse(m.Groups[1].Value, CultureInfo.InvariantCulture) : -1;
    }
}
