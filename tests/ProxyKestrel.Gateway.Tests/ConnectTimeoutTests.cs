using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using ProxyKestrel.Gateway.Tests.Infrastructure;

namespace ProxyKestrel.Gateway.Tests;

public class ConnectTimeoutTests
{
    private static string Config(string first, string? second) => $$"""
        {
          "ReverseProxy": { "Clusters": { "c1": {
            "LoadBalancingPolicy": "FirstAlphabetical",
            "Metadata": { "ProxyProtocol": "v1" },
            "Destinations": { "a-silent": { "Address": "{{first}}" }{{(second is null ? "" : $", \"b-live\": {{ \"Address\": \"{second}\" }}")}} } } } },
          "TcpProxy": { "Routes": { "r1": { "Listen": "127.0.0.1:0", "ClusterId": "c1", "ConnectTimeout": "00:00:01" } } }
        }
        """;

    [Fact]
    public async Task Connect_DestinationNeverAnswers_TimesOutAndTriesTheNext()
    {
        using var silent = SilentDestination.Create();
        await using var backend = new ProxyBackend();
        await using GatewayHost gateway = await GatewayHost.StartAsync(Config($"tcp://{silent.EndPoint}", backend.Address));

        var clock = Stopwatch.StartNew();
        using Socket client = await Net.ConnectAsync(gateway.EndPointOf("r1"), "127.0.0.26");
        await Net.AssertEchoAsync(client, "after a connect timeout");

        BackendConnection seen = await backend.WaitForConnectionAsync();
        Assert.Equal(IPAddress.Parse("127.0.0.26"), seen.Source!.Address);
        Assert.InRange(clock.Elapsed, TimeSpan.FromSeconds(0.9), TimeSpan.FromSeconds(8));
    }

    [Fact]
    public async Task Connect_OnlyDestinationNeverAnswers_ClosesClientAfterTimeout()
    {
        using var silent = SilentDestination.Create();
        await using GatewayHost gateway = await GatewayHost.StartAsync(Config($"tcp://{silent.EndPoint}", null));

        var clock = Stopwatch.StartNew();
        using Socket client = await Net.ConnectAsync(gateway.EndPointOf("r1"), "127.0.0.27");
        await Net.AssertClosedWithoutDataAsync(client, TimeSpan.FromSeconds(8));
        Assert.InRange(clock.Elapsed, TimeSpan.FromSeconds(0.9), TimeSpan.FromSeconds(8));
    }
}
