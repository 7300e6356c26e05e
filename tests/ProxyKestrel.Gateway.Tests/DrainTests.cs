using System.Diagnostics;
using System.Net.Sockets;
using ProxyKestrel.Gateway.Tests.Infrastructure;

namespace ProxyKestrel.Gateway.Tests;

public class DrainTests
{
    [Fact]
    public async Task Stop_WithOpenConnection_RefusesNewOnesAndWaitsForTheOpenOne()
    {
        await using var backend = new ProxyBackend();
        string json = GatewayRelayTests.Config(backend.Address, "v2").Replace("\"TcpProxy\": {", "\"TcpProxy\": { \"DrainTimeout\": \"00:00:05\",", StringComparison.Ordinal);
        await using GatewayHost gateway = await GatewayHost.StartAsync(json);
        var listen = gateway.EndPointOf("r1");
        using var client = await Net.ConnectAsync(listen, "127.0.0.19");
        await Net.AssertEchoAsync(client, "before stop");

        var clock = Stopwatch.StartNew();
        Task stop = gateway.StopAsync();

        await Net.WaitUntilAsync(
            async () =>
            {
                try
                {
                    using var late = await Net.ConnectAsync(listen, "127.0.0.19");
                    return false;
                }
                catch (SocketException e) when (e.SocketErrorCode is SocketError.ConnectionRefused or SocketError.ConnectionReset)
                {
                    // Refused, or reset when it raced into the backlog as the listener closed.
                    return true;
                }
            },
            "new connections refused",
            TimeSpan.FromSeconds(2));

        await Net.AssertEchoAsync(client, "during drain");
        await Task.Delay(200);
        await Net.AssertEchoAsync(client, "still draining");
        Assert.False(stop.IsCompleted, "StopAsync finished while a connection was open");

        client.Shutdown(SocketShutdown.Send);
        await Net.AssertEofAsync(client);
        client.Close();

        await stop.WaitAsync(TimeSpan.FromSeconds(4));
        Assert.True(clock.Elapsed < TimeSpan.FromSeconds(4.5), $"StopAsync took {clock.Elapsed}: it waited for the drain timeout, not the client");
    }
}
