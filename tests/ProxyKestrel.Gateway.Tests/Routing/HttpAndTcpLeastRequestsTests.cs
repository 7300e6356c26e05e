using System.Net.Sockets;
using System.Text;
using Microsoft.Extensions.DependencyInjection;
using ProxyKestrel.Gateway.Routing;
using ProxyKestrel.Gateway.Tests.Infrastructure;
using Yarp.ReverseProxy;
using Yarp.ReverseProxy.Model;

namespace ProxyKestrel.Gateway.Tests.Routing;

/// <summary>
/// One cluster with LeastRequests behind a YARP HTTP route and a TCP route: both count on YARP's per-destination
/// <see cref="DestinationState.ConcurrentRequestCount"/>, so each kind avoids the destination the other keeps busy, and
/// neither loses the other's updates.
/// </summary>
[Collection(TimingSensitive.Name)]
public sealed class HttpAndTcpLeastRequestsTests
{
    private static string Config(HttpBackend a, HttpBackend b) => $$"""
        {
          "ReverseProxy": {
            "Routes": { "web": { "ClusterId": "c1", "Match": { "Path": "{**catch-all}" } } },
            "Clusters": { "c1": {
              "LoadBalancingPolicy": "LeastRequests",
              "Destinations": { "a": { "Address": "{{a.Address}}" }, "b": { "Address": "{{b.Address}}" } } } } },
          "TcpProxy": { "Routes": { "r1": { "Listen": "127.0.0.1:0", "ClusterId": "c1" } } }
        }
        """;

    [Fact]
    public async Task LeastRequests_TcpConnectionsAndHttpRequestsOnOneCluster_EachAvoidsTheDestinationTheOtherKeepsBusy()
    {
        await using HttpBackend a = await HttpBackend.StartAsync("a");
        await using HttpBackend b = await HttpBackend.StartAsync("b");
        await using GatewayHost gateway = await GatewayHost.StartAsync(Config(a, b));
        ClusterState cluster = ClusterOf(gateway);
        using var http = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{gateway.HttpPort}/"), Timeout = Net.Timeout };

        // An open TCP connection counts on its destination: HTTP requests go to the other one.
        string tcpBusy;
        using (Socket tcp = await Net.ConnectAsync(gateway.EndPointOf("r1"), "127.0.0.40"))
        {
            tcpBusy = await AskAsync(tcp);
            string other = tcpBusy == "a" ? "b" : "a";
            Assert.Equal(1, cluster.Destinations[tcpBusy].ConcurrentRequestCount);
            for (int i = 0; i < 3; i++)
            {
                Assert.Equal(other, await http.GetStringAsync("/"));
            }
        }

        await Net.WaitUntilAsync(() => cluster.Destinations[tcpBusy].ConcurrentRequestCount == 0, "the closed TCP connection uncounted");

        // An HTTP request in flight counts on its destination: a TCP connection goes to the other one.
        Task<string> held = http.GetStringAsync("/hold");
        await Net.WaitUntilAsync(() => a.Held + b.Held == 1, "the HTTP request held by its destination");
        string httpBusy = a.Held == 1 ? "a" : "b";
        using (Socket tcp = await Net.ConnectAsync(gateway.EndPointOf("r1"), "127.0.0.40"))
        {
            Assert.Equal(httpBusy == "a" ? "b" : "a", await AskAsync(tcp));
        }

        a.Release();
        b.Release();
        Assert.Equal(httpBusy, await held);
        await Net.WaitUntilAsync(
            () => cluster.Destinations["a"].ConcurrentRequestCount == 0 && cluster.Destinations["b"].ConcurrentRequestCount == 0,
            "every request and connection uncounted");
    }

    [Fact]
    public async Task LeastRequests_HttpRequestsWhileTcpConnectionsStartAndEnd_NoCountLost()
    {
        await using HttpBackend a = await HttpBackend.StartAsync("a");
        await using HttpBackend b = await HttpBackend.StartAsync("b");
        await using GatewayHost gateway = await GatewayHost.StartAsync(Config(a, b));
        ClusterState cluster = ClusterOf(gateway);
        DestinationState[] destinations = [cluster.Destinations["a"], cluster.Destinations["b"]];
        using var http = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{gateway.HttpPort}/"), Timeout = Net.Timeout };

        // HTTP requests (YARP counts them atomically) while TCP connections start and end on the same destinations,
        // as fast as the TCP side's count can go (its own step, without the sockets). A lost update leaves a count
        // that is not zero once everything ended.
        for (int round = 0; round < 8; round++)
        {
            using var stop = new CancellationTokenSource();
            Task tcp = Task.Run(() =>
            {
                while (!stop.IsCancellationRequested)
                {
                    foreach (DestinationState destination in destinations)
                    {
                        DestinationConcurrency.Increment(destination);
                        DestinationConcurrency.Decrement(destination);
                    }
                }
            });
            try
            {
                await Task.WhenAll(Enumerable.Range(0, 8).Select(async worker =>
                {
                    for (int i = 0; i < 50; i++)
                    {
                        _ = await http.GetStringAsync("/");
                    }
                }));
            }
            finally
            {
                await stop.CancelAsync();
                await tcp;
            }

            Assert.True(
                destinations.All(d => d.ConcurrentRequestCount == 0),
                $"round {round}: counts after every request and connection ended: a={destinations[0].ConcurrentRequestCount}, b={destinations[1].ConcurrentRequestCount}");
        }
    }

    [Fact]
    public void DestinationConcurrency_ReferencedYarp_UsesYarpsAtomicCounter() =>
        Assert.True(DestinationConcurrency.IsAtomic, "YARP's DestinationState.ConcurrencyCounter (AtomicCounter) was not found: the TCP count falls back to the setter");

    private static ClusterState ClusterOf(GatewayHost gateway)
    {
        Assert.True(gateway.Services.GetRequiredService<IProxyStateLookup>().TryGetCluster("c1", out ClusterState? cluster));
        return cluster;
    }

    /// <summary>An HTTP/1.1 GET / over a TCP route connection (kept open): the destination's name.</summary>
    private static async Task<string> AskAsync(Socket socket)
    {
        await Net.SendAllAsync(socket, "GET / HTTP/1.1\r\nHost: tcp\r\n\r\n"u8.ToArray());
        using var cts = new CancellationTokenSource(Net.Timeout);
        var received = new List<byte>();
        byte[] buffer = new byte[1024];
        while (true)
        {
            string text = Encoding.ASCII.GetString([.. received]);
            int end = text.IndexOf("\r\n\r\n", StringComparison.Ordinal);
            if (end >= 0)
            {
                string length = text[..end].Split("\r\n").Single(l => l.StartsWith("Content-Length:", StringComparison.OrdinalIgnoreCase))["Content-Length:".Length..].Trim();
                int bodyLength = int.Parse(length, System.Globalization.CultureInfo.InvariantCulture);
                if (text.Length >= end + 4 + bodyLength)
                {
                    Assert.StartsWith("HTTP/1.1 200", text, StringComparison.Ordinal);
                    return text.Substring(end + 4, bodyLength);
                }
            }

            int n = await socket.ReceiveAsync(buffer, SocketFlags.None, cts.Token);
            Assert.True(n > 0, $"the TCP route closed before a complete answer: '{text}'");
            received.AddRange(buffer.AsSpan(0, n));
        }
    }
}
