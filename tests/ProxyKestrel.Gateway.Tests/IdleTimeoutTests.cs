using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Time.Testing;
using ProxyKestrel.Gateway.Tests.Infrastructure;

namespace ProxyKestrel.Gateway.Tests;

public class IdleTimeoutTests
{
    [Fact]
    public async Task Relay_SilentLongerThanIdleTimeout_BothSidesClosed()
    {
        var time = new FakeTimeProvider();
        await using var backend = new ProxyBackend();
        await using GatewayHost gateway = await GatewayHost.StartAsync(
            GatewayRelayTests.Config(backend.Address, "v2", extraRoute: ", \"IdleTimeout\": \"00:00:02\""),
            services => services.AddSingleton<TimeProvider>(time));
        using var measurements = GatewayMeasurements.Start(gateway);
        using var client = await Net.ConnectAsync(gateway.EndPointOf("r1"), "127.0.0.13");
        await Net.AssertEchoAsync(client, "ping");
        await backend.WaitForConnectionAsync();

        time.Advance(TimeSpan.FromSeconds(1.5));
        await Net.AssertEchoAsync(client, "still open");
        time.Advance(TimeSpan.FromSeconds(2.5));

        await Net.AssertClosedAsync(client, TimeSpan.FromSeconds(5));
        await Net.WaitUntilAsync(() => backend.ClosedConnections == 1, "the backend connection closed too");
        await Net.WaitUntilAsync(() => measurements.Results("r1").Count == 1, "the connection counted closed");
        Assert.Equal(["idle_timeout"], measurements.Results("r1"));
    }

    [Fact]
    public async Task Relay_TrafficWithinIdleTimeout_StaysOpen()
    {
        var time = new FakeTimeProvider();
        await using var backend = new ProxyBackend();
        await using GatewayHost gateway = await GatewayHost.StartAsync(
            GatewayRelayTests.Config(backend.Address, "v2", extraRoute: ", \"IdleTimeout\": \"00:00:02\""),
            services => services.AddSingleton<TimeProvider>(time));
        using var client = await Net.ConnectAsync(gateway.EndPointOf("r1"), "127.0.0.14");

        for (int i = 0; i < 10; i++)
        {
            await Net.AssertEchoAsync(client, $"keepalive {i}");
            time.Advance(TimeSpan.FromSeconds(1.5));
        }

        await Net.AssertEchoAsync(client, "after 15 s of fake time");
    }
}
