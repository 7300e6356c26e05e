using System.Text.Json.Nodes;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.Extensions.DependencyInjection;
using ProxyKestrel.Gateway.Http;
using ProxyKestrel.Gateway.Tests.Infrastructure;
using ProxyKestrel.Gateway.Tests.RealPeers;
using Yarp.ReverseProxy;
using Yarp.ReverseProxy.Model;

namespace ProxyKestrel.Gateway.Tests.Http;

/// <summary>
/// YARP HTTP routes to clusters with <c>ProxyProtocol</c> metadata (<c>AddProxyProtocolForwarding</c>): every
/// backend connection starts with the header of the inbound connection's client and is never reused for another
/// client, checked with real receivers (samples/WebApp with our middleware, HAProxy accept-proxy, nginx proxy_protocol).
/// </summary>
public sealed class HttpForwardingTests
{
    private const string ClientA = "127.0.0.31";
    private const string ClientB = "127.0.0.32";
    private const int Rounds = 4;

    [Theory]
    [InlineData("v1", null)]
    [InlineData("v2", null)]
    [InlineData("v2", "unique-id,crc32c")]
    public async Task WebApp_sees_each_interleaved_keep_alive_client_over_its_own_backend_connection(string version, string? tlvs)
    {
        await using WebAppProcess webApp = await WebAppProcess.StartAsync();
        await using GatewayHost gateway = await StartGatewayAsync(webApp.Port, version, tlvs, http2: false);
        await AssertEachClientSeesItselfAsync(gateway, webApp, version, tlvs is not null);
    }

    [Theory]
    [InlineData("v1")]
    [InlineData("v2")]
    public async Task WebApp_over_h2c_sees_each_client_over_its_own_backend_connection(string version)
    {
        // An HTTP/2-only cleartext endpoint: an HTTP/1.1 request from the gateway would fail, so a 200 means h2c.
        await using WebAppProcess webApp = await WebAppProcess.StartAsync(["--Kestrel:EndpointDefaults:Protocols", "Http2"]);
        await using GatewayHost gateway = await StartGatewayAsync(webApp.Port, version, tlvs: null, http2: true);
        await AssertEachClientSeesItselfAsync(gateway, webApp, version, uniqueIds: false);
    }

    [Fact]
    public async Task Concurrent_requests_of_two_clients_never_share_a_backend_connection()
    {
        await using WebAppProcess webApp = await WebAppProcess.StartAsync();
        await using GatewayHost gateway = await StartGatewayAsync(webApp.Port, "v2", tlvs: null, http2: false);
        int gatewayPort = HttpPort(gateway);
        using var a = new BoundClient(ClientA, gatewayPort);
        using var b = new BoundClient(ClientB, gatewayPort);

        Task<string>[] calls = [.. Enumerable.Range(0, 24).Select(i => (i % 2 == 0 ? a : b).GetAsync())];
        string[] bodies = await Task.WhenAll(calls);

        var clientsPerBackendConnection = new Dictionary<int, HashSet<string>>();
        for (int i = 0; i < bodies.Length; i++)
        {
            JsonNode report = JsonNode.Parse(bodies[i])!;
            BoundClient expected = i % 2 == 0 ? a : b;
            Assert.Equal(expected.Address, (string?)report["remoteIp"]);
            Assert.Contains((int)report["remotePort"]!, expected.Ports);
            int backendPort = (int)report["proxyProtocol"]!["proxyPort"]!;
            string client = $"{report["remoteIp"]}:{report["remotePort"]}";
            if (!clientsPerBackendConnection.TryGetValue(backendPort, out HashSet<string>? clients))
            {
                clientsPerBackendConnection[backendPort] = clients = [];
            }

            clients.Add(client);
        }

        Assert.All(clientsPerBackendConnection, pair => Assert.True(
            pair.Value.Count == 1, $"backend connection :{pair.Key} carried requests of {string.Join(", ", pair.Value)}"));
    }

    [Theory]
    [InlineData("v1")]
    [InlineData("v2")]
    public async Task Haproxy_accept_proxy_decodes_each_interleaved_client(string version)
    {
        int receiverPort = FreePort.Next();
        await using RealPeerProcess haproxy = await RealPeerProcess.StartHaproxyReceiverAsync(receiverPort);
        await using GatewayHost gateway = await StartGatewayAsync(receiverPort, version, tlvs: null, http2: false);
        await AssertReceiverDecodesEachClientAsync(gateway, () => haproxy.Output);
    }

    [Theory]
    [InlineData("v1")]
    [InlineData("v2")]
    public async Task Nginx_proxy_protocol_listener_decodes_each_interleaved_client(string version)
    {
        int receiverPort = FreePort.Next();
        await using RealPeerProcess nginx = await RealPeerProcess.StartNginxReceiverAsync(receiverPort);
        await using GatewayHost gateway = await StartGatewayAsync(receiverPort, version, tlvs: null, http2: false);
        await AssertReceiverDecodesEachClientAsync(gateway, () => nginx.Output);
    }

    private static async Task AssertEachClientSeesItselfAsync(GatewayHost gateway, WebAppProcess webApp, string version, bool uniqueIds)
    {
        int gatewayPort = HttpPort(gateway);
        var backendConnections = new Dictionary<int, string>();
        var ids = new Dictionary<int, string?>();
        using (var a = new BoundClient(ClientA, gatewayPort))
        using (var b = new BoundClient(ClientB, gatewayPort))
        {
            for (int round = 0; round < Rounds; round++)
            {
                foreach (BoundClient client in (BoundClient[])[a, b])
                {
                    string body = await client.GetAsync();
                    JsonNode report = JsonNode.Parse(body)!;
                    string context = $"round {round}, client {client.Address}: {body}\n--- webapp ---\n{webApp.Output}";
                    Assert.True(client.Ports.Count == 1, $"the client opened {client.Ports.Count} connections (keep-alive expected); {context}");
                    Assert.True((string?)report["remoteIp"] == client.Address, context);
                    Assert.True((int)report["remotePort"]! == client.Ports[0], context);
                    Assert.True((string?)report["localIp"] == "127.0.0.1", context);
                    Assert.True((int)report["localPort"]! == gatewayPort, context);
                    JsonNode proxy = report["proxyProtocol"]!;
                    Assert.True((int)proxy["version"]! == (version == "v1" ? 1 : 2), context);

                    // The backend connection is the gateway's socket (the header's sender): one client per connection.
                    int backendPort = (int)proxy["proxyPort"]!;
                    string endpoint = $"{client.Address}:{client.Ports[0]}";
                    Assert.True(
                        backendConnections.TryAdd(backendPort, endpoint) || backendConnections[backendPort] == endpoint,
                        $"backend connection :{backendPort} carried {backendConnections[backendPort]} and {endpoint}");
                    string? id = (string?)proxy["uniqueId"];
                    Assert.True(!uniqueIds || id is not null, $"no unique id; {context}");
                    Assert.True(ids.TryAdd(backendPort, id) || ids[backendPort] == id, context);
                }
            }

            // Keep-alive on both sides: exactly one backend connection (one PROXY header) per client connection.
            Assert.Equal(a.Ports.Count + b.Ports.Count, backendConnections.Count);
            if (uniqueIds)
            {
                Assert.Equal(backendConnections.Count, ids.Values.Distinct().Count());
            }

            Assert.Equal(2, PoolCount(gateway));
        }

        // The clients closed their connections: the gateway drops their backend pools.
        long deadline = Environment.TickCount64 + 10_000;
        while (PoolCount(gateway) != 0 && Environment.TickCount64 < deadline)
        {
            await Task.Delay(25);
        }

        Assert.Equal(0, PoolCount(gateway));
    }

    private static async Task AssertReceiverDecodesEachClientAsync(GatewayHost gateway, Func<string> receiverOutput)
    {
        int gatewayPort = HttpPort(gateway);
        using var a = new BoundClient(ClientA, gatewayPort);
        using var b = new BoundClient(ClientB, gatewayPort);
        for (int round = 0; round < Rounds; round++)
        {
            foreach (BoundClient client in (BoundClient[])[a, b])
            {
                string body = (await client.GetAsync()).Trim();
                string expected = $"{client.Address} {client.Ports[^1]} 127.0.0.1 {gatewayPort}";
                Assert.True(body == expected, $"round {round}: receiver decoded '{body}', expected '{expected}'\n--- receiver ---\n{receiverOutput()}");
            }
        }

        Assert.Single(a.Ports);
        Assert.Single(b.Ports);
    }

    private static Task<GatewayHost> StartGatewayAsync(int backendPort, string version, string? tlvs, bool http2)
    {
        var metadata = new JsonObject { ["ProxyProtocol"] = version };
        if (tlvs is not null)
        {
            metadata["ProxyProtocol.Tlvs"] = tlvs;
        }

        var cluster = new JsonObject
        {
            ["Metadata"] = metadata,
            ["Destinations"] = new JsonObject { ["d1"] = new JsonObject { ["Address"] = $"http://127.0.0.1:{backendPort}/" } },
        };
        if (http2)
        {
            cluster["HttpRequest"] = new JsonObject { ["Version"] = "2", ["VersionPolicy"] = "RequestVersionExact" };
        }

        var config = new JsonObject
        {
            ["ReverseProxy"] = new JsonObject
            {
                ["Routes"] = new JsonObject
                {
                    ["web"] = new JsonObject { ["ClusterId"] = "app", ["Match"] = new JsonObject { ["Path"] = "{**catch-all}" } },
                },
                ["Clusters"] = new JsonObject { ["app"] = cluster },
            },
        };
        return GatewayHost.StartAsync(config.ToJsonString(), configureProxy: proxy => proxy.AddProxyProtocolForwarding());
    }

    private static int HttpPort(GatewayHost gateway)
    {
        string address = gateway.Services.GetRequiredService<IServer>().Features.GetRequiredFeature<IServerAddressesFeature>().Addresses.First();
        return new Uri(address).Port;
    }

    private static int PoolCount(GatewayHost gateway)
    {
        Assert.True(gateway.Services.GetRequiredService<IProxyStateLookup>().TryGetCluster("app", out ClusterState? cluster));
        var invoker = Assert.IsType<ProxyProtocolForwarderHttpClientFactory.ProxyProtocolInvoker>(cluster.Model.HttpClient);
        return invoker.Handler.PoolCount;
    }
}
