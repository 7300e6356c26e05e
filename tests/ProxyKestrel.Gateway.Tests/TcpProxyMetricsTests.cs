using System.Net.Sockets;
using ProxyKestrel.Gateway.Tests.Infrastructure;

namespace ProxyKestrel.Gateway.Tests;

public class TcpProxyMetricsTests
{
    private static string Config(string backend, string dead) => $$"""
        {
          "ReverseProxy": { "Clusters": {
            "c1": { "Metadata": { "ProxyProtocol": "v2" }, "Destinations": { "d1": { "Address": "{{backend}}" } } },
            "down": { "Destinations": { "gone": { "Address": "{{dead}}" } } } } },
          "TcpProxy": { "Routes": {
            "r1": { "Listen": "127.0.0.1:0", "ClusterId": "c1", "AllowedClients": [ "127.0.0.21/32" ] },
            "r2": { "Listen": "127.0.0.1:0", "ClusterId": "down" } } }
        }
        """;

    [Fact]
    public async Task Metrics_RelayedRefusedAndFailedConnections_AreCountedWithTags()
    {
        await using var backend = new ProxyBackend();
        await using GatewayHost gateway = await GatewayHost.StartAsync(Config(backend.Address, $"tcp://127.0.0.1:{Net.ClosedPort()}"));
        using var recorded = GatewayMeasurements.Start(gateway);
        var measurements = recorded.All;

        using (Socket client = await Net.ConnectAsync(gateway.EndPointOf("r1"), "127.0.0.21"))
        {
            await Net.AssertEchoAsync(client, "hello");
            client.Shutdown(SocketShutdown.Send);
            await Net.AssertEofAsync(client);
        }

        await Net.AssertRefusedAsync(gateway.EndPointOf("r1"), "127.0.0.22");
        // No destination can be reached: closed without data (possibly reset while still connecting).
        await Net.AssertRefusedAsync(gateway.EndPointOf("r2"), "127.0.0.23");

        await Net.WaitUntilAsync(
            () => measurements.Count(m => m.Instrument == "proxykestrel.tcp.connections") >= 3,
            "three finished connections counted");

        Assert.Contains(measurements, m => m.Instrument == "proxykestrel.tcp.connections"
            && (string?)m.Tags["proxykestrel.route"] == "r1" && (string?)m.Tags["proxykestrel.result"] == "completed");
        Assert.Contains(measurements, m => m.Instrument == "proxykestrel.tcp.connections"
            && (string?)m.Tags["proxykestrel.result"] == "client_not_allowed");
        Assert.Contains(measurements, m => m.Instrument == "proxykestrel.tcp.connections"
            && (string?)m.Tags["proxykestrel.route"] == "r2" && (string?)m.Tags["proxykestrel.result"] == "no_destination");
        Assert.Contains(measurements, m => m.Instrument == "proxykestrel.tcp.connect_errors"
            && (string?)m.Tags["proxykestrel.destination"] == "gone");
        Assert.Contains(measurements, m => m.Instrument == "proxykestrel.tcp.bytes"
            && (string?)m.Tags["network.io.direction"] == "transmit" && m.Value == 5);
        Assert.Contains(measurements, m => m.Instrument == "proxykestrel.tcp.bytes"
            && (string?)m.Tags["network.io.direction"] == "receive" && m.Value == 5);
        Assert.Contains(measurements, m => m.Instrument == "proxykestrel.tcp.connection.duration");
        long active = measurements.Where(m => m.Instrument == "proxykestrel.tcp.active_connections").Sum(m => m.Value);
        Assert.Equal(0, active);
        Assert.Contains(measurements, m => m.Instrument == "proxykestrel.tcp.active_connections" && m.Value == 1);
    }
}
