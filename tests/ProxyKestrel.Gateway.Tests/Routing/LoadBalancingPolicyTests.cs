using System.Net;
using System.Net.Sockets;
using Microsoft.Extensions.DependencyInjection;
using ProxyKestrel.Gateway.Routing;
using ProxyKestrel.Gateway.Tests.Infrastructure;
using Yarp.ReverseProxy;
using Yarp.ReverseProxy.Model;

namespace ProxyKestrel.Gateway.Tests.Routing;

/// <summary>
/// Each of YARP's load-balancing policies picks the destinations of a TCP route, checked by what only that policy does:
/// FirstAlphabetical stays on the alphabetically first destination however busy, RoundRobin alternates, LeastRequests
/// breaks ties the same way every time and moves off a busy destination, PowerOfTwoChoices spreads ties at random but
/// avoids a busy destination, Random spreads whatever the load. Each counts a bounded number of connections.
/// </summary>
public sealed class LoadBalancingPolicyTests
{
    /// <summary>Enough picks that a random policy behaves like a deterministic one with a chance below 2^-19.</summary>
    private const int Picks = 20;

    [Fact]
    public async Task FirstAlphabetical_TcpRoute_AlwaysPicksTheAlphabeticallyFirstEvenWhenBusy()
    {
        await using PolicyGateway gateway = await PolicyGateway.StartAsync("FirstAlphabetical", "charlie", "alpha", "bravo");

        // Not the first in YARP's own order of the destinations: only the policy picks "alpha".
        Assert.NotEqual("alpha", gateway.Cluster.DestinationsState.AvailableDestinations[0].DestinationId);

        // Connections held open, so any policy that looks at the load (or rotates) would move on.
        List<Socket> open = [];
        try
        {
            for (int i = 0; i < 8; i++)
            {
                (string picked, Socket socket) = await gateway.OpenAsync();
                open.Add(socket);
                Assert.Equal("alpha", picked);
            }
        }
        finally
        {
            open.ForEach(s => s.Dispose());
        }
    }

    [Fact]
    public async Task RoundRobin_TcpRoute_AlternatesBetweenTheDestinations()
    {
        await using PolicyGateway gateway = await PolicyGateway.StartAsync("RoundRobin", "a", "b");

        List<string> picks = await gateway.PickSequentiallyAsync(Picks);

        for (int i = 1; i < picks.Count; i++)
        {
            Assert.True(picks[i] != picks[i - 1], $"not alternating: {string.Join(",", picks)}");
        }
    }

    [Fact]
    public async Task LeastRequests_TcpRoute_TiesAlwaysGoToOneDestinationABusyOneIsAvoided()
    {
        await using PolicyGateway gateway = await PolicyGateway.StartAsync("LeastRequests", "a", "b");

        // No load: every tie goes to the same (first available) destination; no rotation, no randomness.
        List<string> idle = await gateway.PickSequentiallyAsync(Picks);
        string first = idle[0];
        Assert.True(idle.All(p => p == first), $"ties spread: {string.Join(",", idle)}");

        // One connection held open there: the others go to the other destination.
        (string held, Socket open) = await gateway.OpenAsync();
        using (open)
        {
            Assert.Equal(first, held);
            List<string> busy = await gateway.PickSequentiallyAsync(4);
            Assert.All(busy, p => Assert.NotEqual(first, p));
        }
    }

    [Fact]
    public async Task PowerOfTwoChoices_TcpRoute_SpreadsTiesButAvoidsABusyDestination()
    {
        await using PolicyGateway gateway = await PolicyGateway.StartAsync("PowerOfTwoChoices", "a", "b");

        // No load: the two random choices tie, and either wins, so both destinations get used.
        List<string> idle = await gateway.PickSequentiallyAsync(Picks);
        Assert.True(idle.Distinct().Count() == 2, $"ties never spread: {string.Join(",", idle)}");

        // "a" busy (as if 50 connections or HTTP requests were open there): every pick compares both, so "b" wins.
        using (gateway.Load("a", 50))
        {
            List<string> busy = await gateway.PickSequentiallyAsync(Picks);
            Assert.True(busy.All(p => p == "b"), $"the busy destination was picked: {string.Join(",", busy)}");
        }
    }

    [Fact]
    public async Task Random_TcpRoute_SpreadsNeitherInTurnNorByLoad()
    {
        await using PolicyGateway gateway = await PolicyGateway.StartAsync("Random", "a", "b");

        List<string> idle = await gateway.PickSequentiallyAsync(Picks);
        Assert.True(idle.Distinct().Count() == 2, $"one destination only: {string.Join(",", idle)}");
        Assert.True(
            Enumerable.Range(1, idle.Count - 1).Any(i => idle[i] == idle[i - 1]),
            $"strictly alternating, as round robin: {string.Join(",", idle)}");

        // The load does not matter to it: a busy destination is still picked.
        using (gateway.Load("a", 50))
        {
            List<string> busy = await gateway.PickSequentiallyAsync(Picks);
            Assert.True(busy.Contains("a"), $"the busy destination was avoided: {string.Join(",", busy)}");
        }
    }

    /// <summary>A gateway with one TCP route to a v2 cluster of <see cref="ProxyBackend"/>s, one per destination.</summary>
    private sealed class PolicyGateway : IAsyncDisposable
    {
        private const string Client = "127.0.0.42";
        private readonly Dictionary<string, ProxyBackend> _backends;

        private PolicyGateway(GatewayHost gateway, Dictionary<string, ProxyBackend> backends, ClusterState cluster)
        {
            Gateway = gateway;
            _backends = backends;
            Cluster = cluster;
        }

        public GatewayHost Gateway { get; }

        public ClusterState Cluster { get; }

        public static async Task<PolicyGateway> StartAsync(string policy, params string[] ids)
        {
            Dictionary<string, ProxyBackend> backends = ids.ToDictionary(id => id, _ => new ProxyBackend());
            string destinations = string.Join(", ", backends.Select(b => $$"""
                "{{b.Key}}": { "Address": "{{b.Value.Address}}" }
                """));
            GatewayHost gateway = await GatewayHost.StartAsync($$"""
                {
                  "ReverseProxy": { "Clusters": { "c1": {
                    "LoadBalancingPolicy": "{{policy}}",
                    "Metadata": { "ProxyProtocol": "v2" },
                    "Destinations": { {{destinations}} } } } },
                  "TcpProxy": { "Routes": { "r1": { "Listen": "127.0.0.1:0", "ClusterId": "c1" } } }
                }
                """);
            Assert.True(gateway.Services.GetRequiredService<IProxyStateLookup>().TryGetCluster("c1", out ClusterState? cluster));
            return new PolicyGateway(gateway, backends, cluster);
        }

        /// <summary>Opens a connection through the route; the destination it reached (by the client port in its header) and the open socket.</summary>
        public async Task<(string Destination, Socket Socket)> OpenAsync()
        {
            Socket socket = await Net.ConnectAsync(Gateway.EndPointOf("r1"), Client);
            try
            {
                await Net.AssertEchoAsync(socket, "pick");
                int port = ((IPEndPoint)socket.LocalEndPoint!).Port;
                string[] reached = [.. _backends.Where(b => b.Value.Connections.Any(c => c.Source?.Port == port)).Select(b => b.Key)];
                return (Assert.Single(reached), socket);
            }
            catch
            {
                socket.Dispose();
                throw;
            }
        }

        /// <summary>
        /// Opens and closes <paramref name="count"/> connections one after the other, each only once the previous one
        /// is no longer counted on its destination; the destinations they reached, in order.
        /// </summary>
        public async Task<List<string>> PickSequentiallyAsync(int count)
        {
            List<string> picks = [];
            for (int i = 0; i < count; i++)
            {
                Dictionary<string, int> before = Counts();
                (string picked, Socket socket) = await OpenAsync();
                socket.Dispose();
                picks.Add(picked);
                await Net.WaitUntilAsync(() => Counts().SequenceEqual(before), $"connection {i} to {picked} uncounted");
            }

            return picks;
        }

        /// <summary>Counts <paramref name="connections"/> more on <paramref name="destinationId"/>, as the TCP connections do, until disposed.</summary>
        public IDisposable Load(string destinationId, int connections)
        {
            DestinationState destination = Cluster.Destinations[destinationId];
            for (int i = 0; i < connections; i++)
            {
                DestinationConcurrency.Increment(destination);
            }

            return new Unload(destination, connections);
        }

        public async ValueTask DisposeAsync()
        {
            await Gateway.DisposeAsync();
            foreach (ProxyBackend backend in _backends.Values)
            {
                await backend.DisposeAsync();
            }
        }

        private Dictionary<string, int> Counts() =>
            Cluster.Destinations.OrderBy(d => d.Key, StringComparer.Ordinal).ToDictionary(d => d.Key, d => d.Value.ConcurrentRequestCount);

        private sealed class Unload(DestinationState destination, int connections) : IDisposable
        {
            public void Dispose()
            {
                for (int i = 0; i < connections; i++)
                {
                    DestinationConcurrency.Decrement(destination);
                }
            }
        }
    }
}
