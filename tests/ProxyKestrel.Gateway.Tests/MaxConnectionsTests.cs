using System.Net.Sockets;
using ProxyKestrel.Gateway.Tests.Infrastructure;

namespace ProxyKestrel.Gateway.Tests;

public class MaxConnectionsTests
{
    [Fact]
    public async Task Connect_BeyondMaxConnections_ClosedAtOnceUntilASlotFrees()
    {
        var logs = new ListLoggerProvider();
        await using var backend = new ProxyBackend();
        await using GatewayHost gateway = await GatewayHost.StartAsync(
            GatewayRelayTests.Config(backend.Address, "v2", extraRoute: ", \"MaxConnections\": 2"), logger: logs);
        using var measurements = GatewayMeasurements.Start(gateway);
        var listen = gateway.EndPointOf("r1");

        using var first = await Net.ConnectAsync(listen, "127.0.0.18");
        await Net.AssertEchoAsync(first, "one");
        using var second = await Net.ConnectAsync(listen, "127.0.0.18");
        await Net.AssertEchoAsync(second, "two");

        await Net.AssertRefusedAsync(listen, "127.0.0.18", timeout: TimeSpan.FromSeconds(2));

        Assert.Equal(2, backend.Connections.Count);
        Assert.Equal(["max_connections"], measurements.Results("r1"));
        Assert.Contains(logs.Entries, e => e.EventId.Name == "MaxConnectionsReached");
        first.Shutdown(SocketShutdown.Send);
        await Net.AssertEofAsync(first);
        first.Close();

        // The slot is released when the relay ends, just after the client sees EOF: retry briefly.
        await Net.WaitUntilAsync(
            async () =>
            {
                try
                {
                    using var fourth = await Net.ConnectAsync(listen, "127.0.0.18");
                    await Net.AssertEchoAsync(fourth, "four");
                    return true;
                }
                catch (Exception e) when (e is EndOfStreamException or SocketException)
                {
                    return false;
                }
            },
            "a new connection after one closed",
            TimeSpan.FromSeconds(5));
        await Net.AssertEchoAsync(second, "two still open");
    }
}
