using System.Net;
using System.Net.Sockets;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using ProxyKestrel.Gateway.Tests.Infrastructure;
using Yarp.ReverseProxy;
using Yarp.ReverseProxy.Health;
using Yarp.ReverseProxy.Model;

namespace ProxyKestrel.Gateway.Tests;

[Collection(TimingSensitive.Name)]
public class TcpActiveHealthCheckTests
{
    private static string Config(string good, string bad) => $$"""
        {
          "ReverseProxy": { "Clusters": { "smtp": {
            "LoadBalancingPolicy": "RoundRobin",
            "Metadata": {
              "ProxyProtocol": "v1",
              "TcpHealthCheck.Enabled": "true",
              "TcpHealthCheck.Interval": "00:00:00.200",
              "TcpHealthCheck.Timeout": "00:00:02",
              "TcpHealthCheck.Expect": "220",
              "TcpHealthCheck.Send": "QUIT\\r\\n",
              "TcpHealthCheck.Rise": "1",
              "TcpHealthCheck.Fall": "2"
            },
            "Destinations": { "good": { "Address": "{{good}}" }, "bad": { "Address": "{{bad}}" } } } } },
          "TcpProxy": { "Routes": { "r1": { "Listen": "127.0.0.1:0", "ClusterId": "smtp" } } }
        }
        """;

    [Fact]
    public async Task HealthCheck_BackendAnsweringWrongBanner_BecomesUnhealthyAndGetsNoClients()
    {
        await using var good = new ProxyBackend(banner: "220 good\r\n");
        await using var bad = new ProxyBackend(banner: "554 not now\r\n");
        await using GatewayHost gateway = await GatewayHost.StartAsync(Config(good.Address, bad.Address));
        IProxyStateLookup lookup = gateway.Services.GetRequiredService<IProxyStateLookup>();
        Assert.True(lookup.TryGetCluster("smtp", out ClusterState? cluster));

        DestinationState badState = cluster.Destinations["bad"];
        DestinationState goodState = cluster.Destinations["good"];
        await WaitUntilAsync(() => badState.Health.Active == DestinationHealth.Unhealthy && goodState.Health.Active == DestinationHealth.Healthy);

        // The checks sent the PROXY header the backends require (v1 here), then the probe exchange.
        Assert.Contains(good.Connections, c => c.Version == ProxyProtocolVersion.V1);
        int badBefore = bad.Connections.Count;
        int goodBefore = good.Connections.Count;
        for (int i = 0; i < 4; i++)
        {
            using var client = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
            client.Bind(new IPEndPoint(IPAddress.Parse("127.0.0.20"), 0));
            await client.ConnectAsync(gateway.EndPointOf("r1"));
            byte[] banner = new byte[64];
            int n = await client.ReceiveAsync(banner);
            Assert.StartsWith("220 good", System.Text.Encoding.ASCII.GetString(banner, 0, n), StringComparison.Ordinal);
        }

        // Client connections (source 127.0.0.20) reached only the healthy destination.
        await WaitUntilAsync(() => good.Connections.Count(c => c.Source?.Address.Equals(IPAddress.Parse("127.0.0.20")) == true) == 4);
        Assert.DoesNotContain(bad.Connections.Skip(badBefore), c => c.Source?.Address.Equals(IPAddress.Parse("127.0.0.20")) == true);
        Assert.True(good.Connections.Count >= goodBefore + 4);
    }

    [Fact]
    public async Task HealthCheck_DestinationDown_IsUnhealthyAndRecoversWhenBack()
    {
        await using var good = new ProxyBackend(banner: "220 good\r\n");

        // Bound but not listening: connects are refused, and the port stays ours (no other test can take it).
        using var listener = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        listener.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        int port = ((IPEndPoint)listener.LocalEndPoint!).Port;

        await using GatewayHost gateway = await GatewayHost.StartAsync(Config(good.Address, $"tcp://127.0.0.1:{port}"));
        IProxyStateLookup lookup = gateway.Services.GetRequiredService<IProxyStateLookup>();
        Assert.True(lookup.TryGetCluster("smtp", out ClusterState? cluster));
        DestinationState down = cluster.Destinations["bad"];
        await WaitUntilAsync(() => down.Health.Active == DestinationHealth.Unhealthy);

        // Bring a well-behaved backend up on that port: the check marks it healthy again (Rise 1).
        listener.Listen(16);
        using var serve = new CancellationTokenSource();
        Task server = Task.Run(async () =>
        {
            while (!serve.IsCancellationRequested)
            {
                using Socket s = await listener.AcceptAsync(serve.Token);
                await s.SendAsync("220 back\r\n"u8.ToArray());

                // Read what the check sends (PROXY header, QUIT) until it closes: closing with unread data would
                // send a reset that can destroy the 220 line before the check reads it.
                byte[] sink = new byte[1024];
                using var drain = CancellationTokenSource.CreateLinkedTokenSource(serve.Token);
                drain.CancelAfter(TimeSpan.FromSeconds(5));
                try
                {
                    while (await s.ReceiveAsync(sink, SocketFlags.None, drain.Token) > 0)
                    {
                    }
                }
                catch (Exception e) when (e is SocketException || (e is OperationCanceledException && !serve.IsCancellationRequested))
                {
                    // The check reset or went quiet: serve the next one.
                }
            }
        });
        await WaitUntilAsync(() => down.Health.Active == DestinationHealth.Healthy);
        await serve.CancelAsync();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => server);
    }

    [Fact]
    public async Task HealthCheck_ReportThrowsUnexpectedly_ProbeRunsAgainAndReportsHealth()
    {
        var logs = new ListLoggerProvider();
        await using var good = new ProxyBackend(banner: "220 good\r\n");
        await using var other = new ProxyBackend(banner: "220 other\r\n");
        var failing = new FailingOnceHealthUpdater();

        // The health updater is YARP's service; the first active report of "good" fails the way any unexpected
        // exception in a check would (here: an updater that throws once).
        await using GatewayHost gateway = await GatewayHost.StartAsync(
            Config(good.Address, other.Address),
            services => failing.Decorate(services, "good"),
            logger: logs);
        IProxyStateLookup lookup = gateway.Services.GetRequiredService<IProxyStateLookup>();
        Assert.True(lookup.TryGetCluster("smtp", out ClusterState? cluster));

        await WaitUntilAsync(() => failing.Failures == 1);
        await WaitUntilAsync(() => cluster.Destinations["good"].Health.Active == DestinationHealth.Healthy);

        var error = Assert.Single(logs.Entries, e => e.EventId.Id == 122);
        Assert.Equal(LogLevel.Error, error.Level);
        Assert.Contains("smtp/good", error.Message, StringComparison.Ordinal);
        Assert.Equal(DestinationHealth.Healthy, cluster.Destinations["bad"].Health.Active);
    }

    /// <summary>YARP's <see cref="IDestinationHealthUpdater"/>, except that the first active report of one destination throws.</summary>
    private sealed class FailingOnceHealthUpdater : IDestinationHealthUpdater
    {
        private IDestinationHealthUpdater? _inner;
        private string _destinationId = "";
        private int _failures;

        public int Failures => Volatile.Read(ref _failures);

        /// <summary>Wraps the registered updater of <paramref name="services"/>.</summary>
        public void Decorate(IServiceCollection services, string destinationId)
        {
            _destinationId = destinationId;
            ServiceDescriptor registered = services.Last(d => d.ServiceType == typeof(IDestinationHealthUpdater));
            services.Remove(registered);
            services.AddSingleton<IDestinationHealthUpdater>(sp =>
            {
                _inner = (IDestinationHealthUpdater)ActivatorUtilities.CreateInstance(sp, registered.ImplementationType!);
                return this;
            });
        }

        public void SetActive(ClusterState cluster, IEnumerable<NewActiveDestinationHealth> newHealthStates)
        {
            List<NewActiveDestinationHealth> states = [.. newHealthStates];
            if (states.Any(s => s.Destination.DestinationId == _destinationId) && Interlocked.CompareExchange(ref _failures, 1, 0) == 0)
            {
                throw new InvalidOperationException("health store unavailable");
            }

            _inner!.SetActive(cluster, states);
        }

        public void SetPassive(ClusterState cluster, DestinationState destination, DestinationHealth newHealth, TimeSpan reactivationPeriod) =>
            _inner!.SetPassive(cluster, destination, newHealth, reactivationPeriod);
    }

    private static async Task WaitUntilAsync(Func<bool> condition)
    {
        long deadline = Environment.TickCount64 + 30_000;
        while (!condition())
        {
            Assert.True(Environment.TickCount64 < deadline, "condition not met within 30 s");
            await Task.Delay(50);
        }
    }
}
