using System.Diagnostics;
using System.Net.Sockets;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Time.Testing;
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

    /// <summary>A gateway whose one connection waits in <paramref name="step"/>, with every other timeout minutes away (the clock moves 1 s).</summary>
    private static string WaitingConfig(string step, string backend) => $$"""
        {
          "ReverseProxy": { "Clusters": { "c1": {
            "Metadata": { "ProxyProtocol": "v2"{{(step == "server_name" ? ", \"ProxyProtocol.Tlvs\": \"authority\"" : "")}} },
            "Destinations": { "d1": { "Address": "{{backend}}" } } } } },
          "TcpProxy": { "DrainTimeout": "00:00:01", "Routes": { "r1": { "Listen": "127.0.0.1:0", "ClusterId": "c1",
            "ConnectTimeout": "00:10:00", "IdleTimeout": "01:00:00"{{(step == "header" ? ", \"AcceptProxyProtocol\": { \"TrustedNetworks\": [\"127.0.0.1/32\"], \"HeaderTimeout\": \"00:05:00\" }" : "")}} } } }
        }
        """;

    [Theory]
    [InlineData("header")]
    [InlineData("server_name")]
    [InlineData("connect")]
    public async Task Stop_DrainTimeoutWhileConnectionWaitsBeforeRelay_ClosedAndCountedAborted(string step)
    {
        // A connection still waiting for its upstream header, its ClientHello or its backend when the drain times out
        // is killed like a relaying one: closed at once, counted "aborted" (not as a header timeout or a completion).
        var time = new FakeTimeProvider();
        var logs = new ListLoggerProvider();
        using var silent = SilentDestination.Create();
        await using var backend = new ProxyBackend();
        string destination = step == "connect" ? $"tcp://{silent.EndPoint}" : backend.Address;
        await using GatewayHost gateway = await GatewayHost.StartAsync(
            WaitingConfig(step, destination), services => services.AddSingleton<TimeProvider>(time), logs);
        using var measurements = GatewayMeasurements.Start(gateway);
        using Socket client = await Net.ConnectAsync(gateway.EndPointOf("r1"), "127.0.0.1");
        await Net.WaitUntilAsync(() => measurements.Active("r1") == 1, "the connection counted open");

        Task stop = gateway.StopAsync();
        // Logged right before the drain's timer starts: the clock moves only once that timer exists.
        await Net.WaitUntilAsync(() => logs.Entries.Any(e => e.EventId.Name == "Draining"), "the drain started");
        time.Advance(TimeSpan.FromSeconds(1));

        await Net.AssertClosedWithoutDataAsync(client);
        await stop.WaitAsync(Net.Timeout);
        Assert.Equal(["aborted"], measurements.Results("r1"));
        Assert.DoesNotContain(logs.Entries, e => e.EventId.Name == "HeaderRejected");
        Assert.Empty(backend.Connections);
    }
}
