using System.Net;
using System.Text;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Time.Testing;
using ProxyKestrel.Gateway.Tests.Infrastructure;
using ProxyKestrel.Gateway.Tests.Infrastructure.Transports;
using ProxyKestrel.Gateway.Udp;

namespace ProxyKestrel.Gateway.Tests.Udp;

/// <summary>UDP routes end to end on loopback: sessions, headers, load balancing, failover, expiry, limits, the access log.</summary>
public sealed class UdpRouteTests
{
    private static readonly TimeSpan s_silence = TimeSpan.FromMilliseconds(500);

    internal static string Json(
        IEnumerable<UdpBackend> backends,
        string proxyProtocol = "v2",
        string routeExtra = "",
        string policy = "RoundRobin",
        string clusterExtra = "") =>
        $$"""
        {
          "ReverseProxy": { "Clusters": { "dns": {
            "LoadBalancingPolicy": "{{policy}}",
            {{(proxyProtocol.Length > 0 ? $"\"Metadata\": {{ \"ProxyProtocol\": \"{proxyProtocol}\" {clusterExtra} }}," : "")}}
            "Destinations": { {{string.Join(", ", backends.Select(b => $"\"{b.Name}\": {{ \"Address\": \"{b.Address}\" }}"))}} } } } },
          "UdpProxy": { "Routes": { "dns": { "Listen": [ "127.0.0.1:0" ], "ClusterId": "dns" {{routeExtra}} } } }
        }
        """;

    [Fact]
    public async Task Relay_V2Cluster_BackendGetsUdp4HeaderWithTheRealClientAndTheClientGetsThePlainReply()
    {
        await using UdpBackend backend = UdpBackend.Start("u1");
        await using GatewayHost gateway = await GatewayHost.StartAsync(Json([backend]));
        IPEndPoint route = gateway.UdpEndPointOf("dns");
        using var client = new UdpTestClient(route, "127.0.0.2");

        string? reply = await client.ExchangeAsync("hello");

        Assert.Equal($"u1 127.0.0.2 {client.LocalEndPoint.Port} hello", reply);
        UdpBackend.Received received = Assert.Single(backend.Datagrams);
        Assert.Equal(ProxyProtocolVersion.V2, received.Version);
        Assert.Equal(ProxyCommand.Proxy, received.Command);
        Assert.Equal(ProxyTransport.Datagram, received.Transport);
        Assert.Equal(0x12, received.Header[13]); // UDP over IPv4 (spec 2.2: \x12).
        Assert.Equal(client.LocalEndPoint, received.Source);
        Assert.Equal(route, received.Destination);
        Assert.Equal("hello"u8.ToArray(), received.Payload);
        Assert.Equal(
            AmbientTransport.Current?.ToString(),
            gateway.Services.GetRequiredService<UdpProxyService>().TransportName);
    }

    [Fact]
    public async Task Relay_ClusterWithoutProxyProtocol_BackendGetsThePayloadOnly()
    {
        await using UdpBackend backend = UdpBackend.Start("u1");
        await using GatewayHost gateway = await GatewayHost.StartAsync(Json([backend], proxyProtocol: ""));
        using var client = new UdpTestClient(gateway.UdpEndPointOf("dns"), "127.0.0.2");

        string? reply = await client.ExchangeAsync("plain");

        // No header: the backend sees the gateway's own socket as the client.
        UdpBackend.Received received = Assert.Single(backend.Datagrams);
        Assert.Empty(received.Header);
        Assert.Equal("plain"u8.ToArray(), received.Payload);
        Assert.Equal($"u1 127.0.0.1 {received.Sender.Port} plain", reply);
    }

    [Fact]
    public async Task Relay_BurstFromManyClients_EveryDatagramAnsweredToItsOwnClient()
    {
        // More datagrams at once than one receive batch (32) and one reply batch: every one reaches its client.
        await using UdpBackend backend = UdpBackend.Start("u1");
        await using GatewayHost gateway = await GatewayHost.StartAsync(Json([backend]));
        IPEndPoint route = gateway.UdpEndPointOf("dns");
        UdpTestClient[] clients = [.. Enumerable.Range(0, 40).Select(i => new UdpTestClient(route, $"127.0.0.{10 + (i % 8)}"))];
        try
        {
            foreach (UdpTestClient client in clients)
            {
                for (int n = 0; n < 5; n++)
                {
                    await client.SendAsync($"q{n}");
                }
            }

            foreach (UdpTestClient client in clients)
            {
                var replies = new List<string?>();
                for (int n = 0; n < 5; n++)
                {
                    replies.Add(await client.ReceiveAsync());
                }

                string prefix = $"u1 {client.LocalEndPoint.Address} {client.LocalEndPoint.Port} q";
                Assert.All(replies, r => Assert.StartsWith(prefix, r));
                Assert.Equal(["q0", "q1", "q2", "q3", "q4"], replies.Select(r => r![(prefix.Length - 1)..]).Order());
            }

            Assert.Equal(200, backend.Datagrams.Count);
            Assert.Equal(40, gateway.Services.GetRequiredService<UdpProxyService>().SessionCount);
        }
        finally
        {
            foreach (UdpTestClient client in clients)
            {
                client.Dispose();
            }
        }
    }

    [Fact]
    public async Task Relay_FloodFromManyClients_EverySessionStillAnswersAfterwards()
    {
        // A flood may lose datagrams (UDP), but no session may stop relaying replies: after it, each client's next
        // query is answered. (The Sockets transport's zero-byte peek once left some sessions deaf for good.)
        await using UdpBackend backend = UdpBackend.Start("u1");
        await using GatewayHost gateway = await GatewayHost.StartAsync(Json([backend]));
        IPEndPoint route = gateway.UdpEndPointOf("dns");
        UdpTestClient[] clients = [.. Enumerable.Range(0, 32).Select(i => new UdpTestClient(route, $"127.0.1.{1 + i}"))];
        try
        {
            byte[] query = new byte[64];
            await Task.WhenAll(clients.Select(async client =>
            {
                for (int n = 0; n < 1500; n++)
                {
                    await client.SendAsync(query);
                    if (n % 50 == 0)
                    {
                        await Task.Yield();
                    }
                }
            }));
            await Task.WhenAll(clients.Select(client => client.DrainAsync(TimeSpan.FromMilliseconds(500))));

            var deaf = new List<IPEndPoint>();
            foreach (UdpTestClient client in clients)
            {
                string? reply = null;
                for (int attempt = 0; attempt < 3 && reply is null; attempt++)
                {
                    await client.SendAsync("final");
                    reply = await client.ReceiveUntilAsync(r => r.EndsWith(" final", StringComparison.Ordinal), TimeSpan.FromSeconds(2));
                }

                if (reply is null)
                {
                    deaf.Add(client.LocalEndPoint);
                }
            }

            Assert.Empty(deaf);
        }
        finally
        {
            foreach (UdpTestClient client in clients)
            {
                client.Dispose();
            }
        }
    }

    [Fact]
    public async Task Session_SameClientStaysOnItsDestination_NextClientGetsTheNextOne()
    {
        await using UdpBackend u1 = UdpBackend.Start("u1");
        await using UdpBackend u2 = UdpBackend.Start("u2");
        await using GatewayHost gateway = await GatewayHost.StartAsync(Json([u1, u2]));
        IPEndPoint route = gateway.UdpEndPointOf("dns");
        using var a = new UdpTestClient(route, "127.0.0.2");
        using var b = new UdpTestClient(route, "127.0.0.3");

        string? first = await a.ExchangeAsync("1");
        string? second = await b.ExchangeAsync("2");
        string? third = await a.ExchangeAsync("3");
        string? fourth = await a.ExchangeAsync("4");

        string aBackend = first!.Split(' ')[0];
        string bBackend = second!.Split(' ')[0];
        Assert.NotEqual(aBackend, bBackend);
        Assert.StartsWith(aBackend + " 127.0.0.2 ", third);
        Assert.StartsWith(aBackend + " 127.0.0.2 ", fourth);
        Assert.StartsWith(bBackend + " 127.0.0.3 ", second);
        Assert.Equal(3, (aBackend == "u1" ? u1 : u2).Datagrams.Count);
    }

    [Fact]
    public async Task Failover_DestinationRefuses_MarkedUnhealthyAndTheClientsNextDatagramReachesTheOther()
    {
        // "a-down" sorts first: FirstAlphabetical picks it for the first session.
        var down = new UdpBackendAddress("a-down", $"udp://127.0.0.1:{Net.ClosedPort()}");
        await using UdpBackend up = UdpBackend.Start("b-up");
        var logs = new ListLoggerProvider();
        string json = $$"""
        {
          "ReverseProxy": { "Clusters": { "dns": { "LoadBalancingPolicy": "FirstAlphabetical", "Metadata": { "ProxyProtocol": "v2" },
            "Destinations": { "a-down": { "Address": "{{down.Address}}" }, "b-up": { "Address": "{{up.Address}}" } } } } },
          "UdpProxy": { "Routes": { "dns": { "Listen": [ "127.0.0.1:0" ], "ClusterId": "dns" } } }
        }
        """;
        await using GatewayHost gateway = await GatewayHost.StartAsync(json, logger: logs);
        using var client = new UdpTestClient(gateway.UdpEndPointOf("dns"), "127.0.0.2");

        // The first datagram goes to a-down and is lost (UDP); its ICMP port unreachable ends the session and marks
        // a-down unhealthy, so a retry, as a DNS client makes, opens a session on b-up.
        string? reply = null;
        for (int attempt = 0; attempt < 5 && reply is null; attempt++)
        {
            reply = await client.ExchangeAsync("retry", s_silence);
        }

        Assert.Equal($"b-up 127.0.0.2 {client.LocalEndPoint.Port} retry", reply);
        Assert.Contains(logs.Entries, e => e.EventId.Id == 174 && e.Message.Contains("a-down", StringComparison.Ordinal));
        Assert.Contains(logs.Entries, e => e.EventId.Id == 178 && e.Message.Contains(" dns dns/a-down ", StringComparison.Ordinal) && e.Message.Contains(" SC ", StringComparison.Ordinal));

        // Another client now starts on b-up directly (a-down is passively unhealthy).
        using var other = new UdpTestClient(gateway.UdpEndPointOf("dns"), "127.0.0.3");
        Assert.StartsWith("b-up 127.0.0.3 ", await other.ExchangeAsync("next"));
    }

    [Fact]
    public async Task IdleTimeout_NoTrafficForIt_SessionEndsWithOneTcplogLine()
    {
        var time = new FakeTimeProvider(DateTimeOffset.Parse("2026-12-02T10:00:00Z", System.Globalization.CultureInfo.InvariantCulture));
        await using UdpBackend backend = UdpBackend.Start("u1");
        var logs = new ListLoggerProvider();
        await using GatewayHost gateway = await GatewayHost.StartAsync(
            Json([backend], routeExtra: ", \"IdleTimeout\": \"00:00:10\""),
            services => services.AddSingleton<TimeProvider>(time),
            logger: logs);
        using var measurements = GatewayMeasurements.Start(gateway);
        UdpProxyService service = gateway.Services.GetRequiredService<UdpProxyService>();
        using var client = new UdpTestClient(gateway.UdpEndPointOf("dns"), "127.0.0.2");
        Assert.NotNull(await client.ExchangeAsync("ping"));

        time.Advance(TimeSpan.FromSeconds(9));
        Assert.Equal(1, service.SessionCount);
        Assert.DoesNotContain(logs.Entries, e => e.EventId.Id == 178);

        time.Advance(TimeSpan.FromSeconds(2));
        await Net.WaitUntilAsync(() => service.SessionCount == 0, "the idle session ended");

        (EventId _, LogLevel _, string category, string line) = Assert.Single(logs.Entries, e => e.EventId.Id == 178);
        Assert.Equal("ProxyKestrel.Gateway.AccessLog", category);
        string bytes = (backend.Name.Length + " 127.0.0.2 ".Length + client.LocalEndPoint.Port.ToString(System.Globalization.CultureInfo.InvariantCulture).Length + 1 + 4).ToString(System.Globalization.CultureInfo.InvariantCulture);
        Assert.Matches($@"^127\.0\.0\.2:{client.LocalEndPoint.Port} \[\d\d/Dec/2026:\d\d:00:00\.000\] dns dns/u1 0/0/1[01]\d\d\d {bytes} -- 1/1/1/1/0 0/0$", line);
        Assert.Contains(measurements.All, m => m.Instrument == "proxykestrel.udp.sessions" && (string?)m.Tags["proxykestrel.result"] == "idle_timeout");

        // A new datagram opens a new session.
        Assert.NotNull(await client.ExchangeAsync("again"));
        Assert.Equal(1, service.SessionCount);
    }

    [Fact]
    public async Task MaxSessions_NewClientBeyondIt_DroppedAndCountedWhileTheFirstGoesOn()
    {
        await using UdpBackend backend = UdpBackend.Start("u1");
        await using GatewayHost gateway = await GatewayHost.StartAsync(Json([backend], routeExtra: ", \"MaxSessions\": 1"));
        using var measurements = GatewayMeasurements.Start(gateway);
        IPEndPoint route = gateway.UdpEndPointOf("dns");
        using var first = new UdpTestClient(route, "127.0.0.2");
        using var second = new UdpTestClient(route, "127.0.0.3");

        Assert.NotNull(await first.ExchangeAsync("a"));
        Assert.Null(await second.ExchangeAsync("b", s_silence));
        Assert.NotNull(await first.ExchangeAsync("c"));

        Assert.Equal(2, backend.Datagrams.Count);
        Assert.Contains(measurements.All, m => m.Instrument == "proxykestrel.udp.dropped_datagrams" && (string?)m.Tags["proxykestrel.reason"] == "max_sessions");
    }

    [Fact]
    public async Task MaxSessions_RouteWithTwoEndpoints_CountedOverBoth()
    {
        await using UdpBackend backend = UdpBackend.Start("u1");
        string json = Json([backend], routeExtra: ", \"MaxSessions\": 1")
            .Replace("\"Listen\": [ \"127.0.0.1:0\" ]", "\"Listen\": [ \"127.0.0.1:0\", \"127.0.0.5:0\" ]", StringComparison.Ordinal);
        await using GatewayHost gateway = await GatewayHost.StartAsync(json);
        IReadOnlyList<(string RouteId, EndPoint EndPoint)> endpoints = gateway.Services.GetRequiredService<IUdpProxyEndpoints>().BoundEndPoints;
        Assert.Equal(2, endpoints.Count);
        using var first = new UdpTestClient((IPEndPoint)endpoints[0].EndPoint, "127.0.0.2");
        using var second = new UdpTestClient((IPEndPoint)endpoints[1].EndPoint, "127.0.0.3");

        Assert.NotNull(await first.ExchangeAsync("a"));
        Assert.Null(await second.ExchangeAsync("b", s_silence));
        Assert.Single(backend.Datagrams);
    }

    [Fact]
    public async Task Oversize_HeaderAndPayloadOverTheUdpLimit_DroppedNeverTruncated()
    {
        await using UdpBackend backend = UdpBackend.Start("u1");
        await using GatewayHost gateway = await GatewayHost.StartAsync(Json([backend]));
        using var measurements = GatewayMeasurements.Start(gateway);
        using var client = new UdpTestClient(gateway.UdpEndPointOf("dns"), "127.0.0.2");

        // 65,507 bytes is the most one IPv4 datagram holds: with the 28-byte header it no longer fits.
        await client.SendAsync(new byte[UdpRouteConfig.MaxDatagramSize]);
        Assert.Null(await client.ReceiveAsync(s_silence));
        // The largest payload that fits with the header goes through whole.
        byte[] fits = Enumerable.Repeat((byte)'x', UdpRouteConfig.MaxDatagramSize - 28).ToArray();
        await client.SendAsync(fits);
        string? reply = await client.ReceiveAsync();

        Assert.NotNull(reply);
        UdpBackend.Received received = Assert.Single(backend.Datagrams);
        Assert.Equal(fits.Length, received.Payload.Length);
        Assert.Contains(measurements.All, m => m.Instrument == "proxykestrel.udp.dropped_datagrams" && (string?)m.Tags["proxykestrel.reason"] == "too_large");
    }

    [Fact]
    public async Task AcceptProxyProtocol_TrustedSenderHeader_BackendSeesTheOriginalClient()
    {
        await using UdpBackend backend = UdpBackend.Start("u1");
        await using GatewayHost gateway = await GatewayHost.StartAsync(Json(
            [backend], routeExtra: ", \"AcceptProxyProtocol\": { \"TrustedNetworks\": [ \"127.0.0.1/32\" ] }"));
        IPEndPoint route = gateway.UdpEndPointOf("dns");
        using var upstream = new UdpTestClient(route, "127.0.0.1");

        byte[] header = UdpHeaders.V2(new IPEndPoint(IPAddress.Parse("192.0.2.7"), 4242), new IPEndPoint(IPAddress.Parse("198.51.100.1"), 53));
        await upstream.SendAsync([.. header, .. "q1"u8]);
        string? first = await upstream.ReceiveAsync();
        // A second client behind the same upstream socket is a session of its own.
        await upstream.SendAsync([.. UdpHeaders.V2(new IPEndPoint(IPAddress.Parse("192.0.2.8"), 4343), new IPEndPoint(IPAddress.Parse("198.51.100.1"), 53)), .. "q2"u8]);
        string? second = await upstream.ReceiveAsync();

        Assert.Equal("u1 192.0.2.7 4242 q1", first);
        Assert.Equal("u1 192.0.2.8 4343 q2", second);
        Assert.Equal(new IPEndPoint(IPAddress.Parse("198.51.100.1"), 53), backend.Datagrams.First().Destination);
        Assert.Equal(2, gateway.Services.GetRequiredService<UdpProxyService>().SessionCount);
    }

    public static TheoryData<string, string, string> BadUpstreamDatagrams => new()
    {
        { "garbage header", "127.0.0.1", "invalid_header" },
        { "no header", "127.0.0.1", "missing_header" },
        { "untrusted sender", "127.0.0.2", "untrusted_peer" },
        { "v1 header", "127.0.0.1", "invalid_header" },
        { "tcp family", "127.0.0.1", "invalid_header" },
    };

    [Theory]
    [MemberData(nameof(BadUpstreamDatagrams))]
    public async Task AcceptProxyProtocol_BadDatagram_DroppedLoggedOnceAndCountedOthersUnharmed(string kind, string from, string reason)
    {
        await using UdpBackend backend = UdpBackend.Start("u1");
        var logs = new ListLoggerProvider();
        await using GatewayHost gateway = await GatewayHost.StartAsync(
            Json([backend], routeExtra: ", \"AcceptProxyProtocol\": { \"TrustedNetworks\": [ \"127.0.0.1/32\" ] }"),
            logger: logs);
        using var measurements = GatewayMeasurements.Start(gateway);
        IPEndPoint route = gateway.UdpEndPointOf("dns");
        using var bad = new UdpTestClient(route, from);
        using var good = new UdpTestClient(route, "127.0.0.1");
        var client = new IPEndPoint(IPAddress.Parse("192.0.2.7"), 4242);
        byte[] valid = UdpHeaders.V2(client, route);
        byte[] datagram = kind switch
        {
            "garbage header" => [.. valid[..12], 0x21, 0x12, 0xFF, 0xFF, .. "x"u8],
            "no header" => "just a query"u8.ToArray(),
            "untrusted sender" => [.. valid, .. "q"u8],
            "v1 header" => "PROXY UDP4 192.0.2.7 127.0.0.1 4242 53\r\nq"u8.ToArray(),
            "tcp family" => [.. UdpHeaders.V2(client, route, ProxyTransport.Stream), .. "q"u8],
            _ => throw new ArgumentOutOfRangeException(nameof(kind)),
        };

        await bad.SendAsync(datagram);
        Assert.Null(await bad.ReceiveAsync(s_silence));
        Assert.Equal("u1 192.0.2.7 4242 ok", await ExchangeRawAsync(good, [.. valid, .. "ok"u8]));

        Assert.Single(backend.Datagrams);
        Assert.Single(logs.Entries, e => e.EventId.Id == 172);
        Assert.Single(measurements.All, m => m.Instrument == "proxykestrel.udp.dropped_datagrams" && (string?)m.Tags["proxykestrel.reason"] == reason);
    }

    [Fact]
    public async Task Reload_RouteAdded_SessionsOfTheRouteThatStaysGoOn()
    {
        await using UdpBackend backend = UdpBackend.Start("u1");
        string before = Json([backend]);
        await using GatewayHost gateway = await GatewayHost.StartAsync(before);
        UdpProxyService service = gateway.Services.GetRequiredService<UdpProxyService>();
        using var client = new UdpTestClient(gateway.UdpEndPointOf("dns"), "127.0.0.2");
        Assert.NotNull(await client.ExchangeAsync("before"));

        string after = before.Replace(
            "\"ClusterId\": \"dns\"  } } }",
            "\"ClusterId\": \"dns\"  }, \"dns2\": { \"Listen\": [ \"127.0.0.1:0\" ], \"ClusterId\": \"dns\" } } }",
            StringComparison.Ordinal);
        Assert.NotEqual(before, after);
        await File.WriteAllTextAsync(gateway.ConfigPath, after);
        await Net.WaitUntilAsync(() => service.Config.Routes.Count == 2, "the added route");

        Assert.Equal($"u1 127.0.0.2 {client.LocalEndPoint.Port} after", await client.ExchangeAsync("after"));
        Assert.Equal(1, service.SessionCount - 0); // the session of "dns" stayed; "dns2" has none yet
        using var client2 = new UdpTestClient(gateway.UdpEndPointOf("dns2"), "127.0.0.3");
        Assert.StartsWith("u1 127.0.0.3 ", await client2.ExchangeAsync("new route"));
        // The first session was not replaced: all its datagrams came from one gateway socket.
        Assert.Single(backend.Datagrams.Where(d => d.Source!.Address.Equals(IPAddress.Parse("127.0.0.2"))).Select(d => d.Sender).Distinct());
    }

    [Fact]
    public async Task Reload_InvalidChange_RefusedWithEveryErrorAndTheRouteGoesOn()
    {
        await using UdpBackend backend = UdpBackend.Start("u1");
        string before = Json([backend]);
        var logs = new ListLoggerProvider();
        await using GatewayHost gateway = await GatewayHost.StartAsync(before, logger: logs);
        using var client = new UdpTestClient(gateway.UdpEndPointOf("dns"), "127.0.0.2");

        await File.WriteAllTextAsync(gateway.ConfigPath, before.Replace("\"ClusterId\": \"dns\"", "\"ClusterId\": \"dns\", \"MaxSessions\": 0, \"Bogus\": 1", StringComparison.Ordinal));
        await Net.WaitUntilAsync(() => logs.Entries.Any(e => e.EventId.Id == 175), "the refused change logged");

        string refused = logs.Entries.First(e => e.EventId.Id == 175).Message;
        Assert.Contains("UdpProxy:Routes:dns:MaxSessions: 0 is out of range", refused, StringComparison.Ordinal);
        Assert.Contains("UdpProxy:Routes:dns:Bogus: unknown key", refused, StringComparison.Ordinal);
        Assert.NotNull(await client.ExchangeAsync("still"));
    }

    [Fact]
    public async Task ClusterChange_ToV1AndToATcpDestination_NewClientsDroppedAndLoggedTheRouteGoesOn()
    {
        await using UdpBackend backend = UdpBackend.Start("u1");
        string before = Json([backend]);
        var logs = new ListLoggerProvider();
        await using GatewayHost gateway = await GatewayHost.StartAsync(before, logger: logs);
        var clusters = gateway.Services.GetRequiredService<Yarp.ReverseProxy.IProxyStateLookup>();
        IPEndPoint route = gateway.UdpEndPointOf("dns");

        // YARP takes the cluster change (its validators know nothing of UDP); the UDP section refuses it (175).
        await File.WriteAllTextAsync(gateway.ConfigPath, before.Replace("\"ProxyProtocol\": \"v2\"", "\"ProxyProtocol\": \"v1\"", StringComparison.Ordinal));
        await Net.WaitUntilAsync(
            () => clusters.TryGetCluster("dns", out var c) && c.Model.Config.Metadata!["ProxyProtocol"] == "v1",
            "YARP applied the v1 cluster");
        using (var client = new UdpTestClient(route, "127.0.0.2"))
        {
            Assert.Null(await client.ExchangeAsync("v1", s_silence));
        }

        Assert.Contains(logs.Entries, e => e.EventId.Id == 169 && e.Message.Contains("v1", StringComparison.Ordinal));

        await File.WriteAllTextAsync(gateway.ConfigPath, before.Replace(backend.Address, $"tcp://127.0.0.1:{backend.Port}", StringComparison.Ordinal));
        await Net.WaitUntilAsync(
            () => clusters.TryGetCluster("dns", out var c) && c.Model.Config.Metadata!["ProxyProtocol"] == "v2",
            "YARP applied the tcp:// destination");
        using (var client = new UdpTestClient(route, "127.0.0.3"))
        {
            Assert.Null(await client.ExchangeAsync("tcp", s_silence));
        }

        Assert.Contains(logs.Entries, e => e.EventId.Id == 174 && e.Message.Contains("not a udp://HOST:PORT address", StringComparison.Ordinal));
        Assert.Empty(backend.Datagrams);

        await File.WriteAllTextAsync(gateway.ConfigPath, before);
        await Net.WaitUntilAsync(
            () => clusters.TryGetCluster("dns", out var c) && c.Destinations.Values.All(d => d.Model.Config.Address.StartsWith("udp://", StringComparison.Ordinal)),
            "YARP applied the udp:// destination again");
        using var back = new UdpTestClient(route, "127.0.0.4");
        Assert.StartsWith("u1 127.0.0.4 ", await back.ExchangeAsync("back"));
        Assert.DoesNotContain(logs.Entries, e => e.EventId.Id == 179);
    }

    [Fact]
    public async Task Drain_Shutdown_NewClientsRefusedWhileAnOpenSessionIsStillAnswered()
    {
        await using UdpBackend backend = UdpBackend.Start("u1");
        await using GatewayHost gateway = await GatewayHost.StartAsync(Json([backend]).Replace("\"Routes\"", "\"DrainTimeout\": \"00:00:30\", \"Routes\"", StringComparison.Ordinal));
        UdpProxyService service = gateway.Services.GetRequiredService<UdpProxyService>();
        IPEndPoint route = gateway.UdpEndPointOf("dns");
        using var open = new UdpTestClient(route, "127.0.0.2");
        using var late = new UdpTestClient(route, "127.0.0.3");
        Assert.NotNull(await open.ExchangeAsync("before"));

        Task stopping = service.StopAsync(CancellationToken.None);
        Assert.False(stopping.IsCompleted);

        Assert.Null(await late.ExchangeAsync("refused", s_silence));
        Assert.NotNull(await open.ExchangeAsync("during drain"));
        Assert.False(stopping.IsCompleted);
    }

    private static async Task<string?> ExchangeRawAsync(UdpTestClient client, byte[] datagram)
    {
        await client.SendAsync(datagram);
        return await client.ReceiveAsync();
    }

    private sealed record UdpBackendAddress(string Name, string Address);
}

/// <summary>PROXY v2 headers for datagrams, from the codec's writer.</summary>
internal static class UdpHeaders
{
    public static byte[] V2(IPEndPoint source, IPEndPoint destination, ProxyTransport transport = ProxyTransport.Datagram)
    {
        Span<byte> buffer = stackalloc byte[64];
        int length = ProxyV2HeaderWriter.Proxy(buffer, source.Address, source.Port, destination.Address, destination.Port, transport).Complete();
        return buffer[..length].ToArray();
    }
}
