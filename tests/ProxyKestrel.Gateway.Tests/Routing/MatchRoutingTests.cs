using System.Net;
using System.Net.Sockets;
using System.Text;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Time.Testing;
using ProxyKestrel.Gateway.Tests.Infrastructure;
using ProxyKestrel.Testing;

namespace ProxyKestrel.Gateway.Tests.Routing;

/// <summary>
/// Several routes on one listener, each connection relayed by the route its first bytes choose (TLS SNI and ALPN,
/// the HTTP Host, the sniffed protocol) or its address, with the bytes looked at relayed unchanged after the PROXY
/// header; on every transport.
/// </summary>
public class MatchRoutingTests
{
    [Fact]
    public async Task Relay_ClientHellos_EachGoesToTheMostSpecificRouteIntactWithItsNameInTheAuthorityTlv()
    {
        await using var a = new ProxyBackend();
        await using var b = new ProxyBackend();
        await using var fallback = new ProxyBackend();
        int port = FreePort.Next();
        await using GatewayHost gateway = await GatewayHost.StartAsync($$"""
            {
              "ReverseProxy": { "Clusters": {
                "a": { "Metadata": { "ProxyProtocol": "v2", "ProxyProtocol.Tlvs": "authority" }, "Destinations": { "d": { "Address": "{{a.Address}}" } } },
                "b": { "Metadata": { "ProxyProtocol": "v2" }, "Destinations": { "d": { "Address": "{{b.Address}}" } } },
                "fallback": { "Metadata": { "ProxyProtocol": "v2" }, "Destinations": { "d": { "Address": "{{fallback.Address}}" } } } } },
              "TcpProxy": { "Routes": {
                "tls-a":   { "Listen": "127.0.0.1:{{port}}", "Match": { "Sni": [ "a.example.test", "*.a.example.test" ] }, "ClusterId": "a" },
                "tls-b":   { "Listen": "127.0.0.1:{{port}}", "Match": { "Sni": [ "b.example.test" ], "Alpn": [ "h2" ] }, "ClusterId": "b" },
                "tls-any": { "Listen": "127.0.0.1:{{port}}", "ClusterId": "fallback" } } }
            }
            """);
        using var measurements = GatewayMeasurements.Start(gateway);
        var listener = new IPEndPoint(IPAddress.Loopback, port);

        (string Sni, string[] Alpn, ProxyBackend Expected, string Route)[] cases =
        [
            ("a.example.test", [], a, "tls-a"),
            ("mail.a.example.test", ["h2"], a, "tls-a"),
            ("b.example.test", ["h2", "http/1.1"], b, "tls-b"),
            ("b.example.test", ["http/1.1"], fallback, "tls-any"),
            ("c.example.test", [], fallback, "tls-any"),
        ];
        for (int i = 0; i < cases.Length; i++)
        {
            (string sni, string[] alpn, ProxyBackend expected, string route) = cases[i];
            byte[] hello = await ClientHellos.CaptureAsync(sni, alpn);
            int before = expected.Connections.Count;
            using Socket client = await Net.ConnectAsync(listener, $"127.0.0.{60 + i}");
            await Net.SendAllAsync(client, hello);

            Assert.Equal(hello, await Net.ReceiveExactlyAsync(client, hello.Length));
            BackendConnection seen = await expected.WaitForConnectionAsync(before + 1);
            Assert.Equal($"127.0.0.{60 + i}", seen.Source!.Address.ToString());
            if (expected == a)
            {
                Assert.Equal(sni, Encoding.ASCII.GetString(Assert.Single(seen.Tlvs, t => t.Type == (byte)ProxyTlvType.Authority).Value));
            }

            client.Shutdown(SocketShutdown.Send);
            await Net.AssertEofAsync(client);
            await Net.WaitUntilAsync(() => measurements.Results(route).Count(r => r == "completed") >= cases[..(i + 1)].Count(c => c.Route == route), $"{sni} counted on {route}");
        }

        Assert.Equal(2, a.Connections.Count);
        Assert.Single(b.Connections);
        Assert.Equal(2, fallback.Connections.Count);
    }

    [Fact]
    public async Task Relay_HttpRequestsSplitAnywhere_RoutedByTheFirstRequestsHostThenRelayedAsBytes()
    {
        await using var a = new ProxyBackend();
        await using var fallback = new ProxyBackend();
        int port = FreePort.Next();
        await using GatewayHost gateway = await GatewayHost.StartAsync(TwoRoutes(port, """ "Match": { "Host": [ "a.example.test" ] } """, a, fallback));
        var listener = new IPEndPoint(IPAddress.Loopback, port);
        byte[] first = "GET /one HTTP/1.1\r\nUser-Agent: t\r\nHost: A.example.test:8080\r\n\r\n"u8.ToArray();
        byte[] second = "GET /two HTTP/1.1\r\nHost: other.example.test\r\n\r\n"u8.ToArray();

        foreach (int split in new[] { 1, 20, first.Length - 2 })
        {
            int before = a.Connections.Count;
            using Socket client = await Net.ConnectAsync(listener, "127.0.0.70");
            await Net.SendAllAsync(client, first.AsMemory(0, split));
            await Task.Yield();
            await Net.SendAllAsync(client, first.AsMemory(split));
            Assert.Equal(first, await Net.ReceiveExactlyAsync(client, first.Length));

            // The next request on the connection names another host: it goes where the first went, as bytes.
            await Net.SendAllAsync(client, second);
            Assert.Equal(second, await Net.ReceiveExactlyAsync(client, second.Length));
            await a.WaitForConnectionAsync(before + 1);
        }

        using Socket other = await Net.ConnectAsync(listener, "127.0.0.71");
        await Net.AssertEchoAsync(other, "GET / HTTP/1.1\r\nHost: b.example.test\r\n\r\n");
        await fallback.WaitForConnectionAsync();
        Assert.Equal(3, a.Connections.Count);
    }

    [Fact]
    public async Task Relay_SshIdentification_GoesToTheSshRouteAndOtherBytesToTheDefault()
    {
        await using var bastion = new ProxyBackend();
        await using var fallback = new ProxyBackend();
        int port = FreePort.Next();
        await using GatewayHost gateway = await GatewayHost.StartAsync(TwoRoutes(port, """ "Match": { "Protocol": [ "Ssh" ] } """, bastion, fallback));
        var listener = new IPEndPoint(IPAddress.Loopback, port);

        using Socket ssh = await Net.ConnectAsync(listener, "127.0.0.72");
        await Net.AssertEchoAsync(ssh, "SSH-2.0-OpenSSH_9.2\r\n");
        using Socket smtp = await Net.ConnectAsync(listener, "127.0.0.73");
        await Net.AssertEchoAsync(smtp, "EHLO client\r\n");

        Assert.Equal("127.0.0.72", (await bastion.WaitForConnectionAsync()).Source!.Address.ToString());
        Assert.Equal("127.0.0.73", (await fallback.WaitForConnectionAsync()).Source!.Address.ToString());
        Assert.Single(bastion.Connections);
    }

    [Fact]
    public async Task Connect_NoRouteMatchesAndNoDefault_ClosedWithoutDataCountedNoRouteAndNoBackendDialled()
    {
        await using var a = new ProxyBackend();
        int port = FreePort.Next();
        await using GatewayHost gateway = await GatewayHost.StartAsync($$"""
            {
              "ReverseProxy": { "Clusters": { "a": { "Metadata": { "ProxyProtocol": "v2" }, "Destinations": { "d": { "Address": "{{a.Address}}" } } } } },
              "TcpProxy": { "Routes": {
                "tls-a": { "Listen": "127.0.0.1:{{port}}", "Match": { "Sni": [ "a.example.test" ] }, "ClusterId": "a" },
                "src":   { "Listen": "127.0.0.1:{{port}}", "Match": { "SourceNetworks": [ "127.0.0.2/32" ] }, "ClusterId": "a" } } }
            }
            """);
        using var measurements = GatewayMeasurements.Start(gateway);
        using Socket client = await Net.ConnectAsync(new IPEndPoint(IPAddress.Loopback, port), "127.0.0.74");

        await Net.SendAllAsync(client, await ClientHellos.CaptureAsync("b.example.test"));

        await Net.AssertClosedWithoutDataAsync(client);
        await Net.WaitUntilAsync(() => measurements.Results("-").Count == 1, "the refusal counted");
        Assert.Equal(["no_route"], measurements.Results("-"));
        Assert.Empty(a.Connections);
    }

    [Fact]
    public async Task Relay_RoutesChosenBySourceOnly_ServerSpeaksFirstWithoutWaitingForTheClient()
    {
        await using var inside = new ProxyBackend(banner: "220 inside\r\n");
        await using var outside = new ProxyBackend(banner: "220 outside\r\n");
        int port = FreePort.Next();
        await using GatewayHost gateway = await GatewayHost.StartAsync(TwoRoutes(port, """ "Match": { "SourceNetworks": [ "127.0.0.2/32" ] } """, inside, outside));
        var listener = new IPEndPoint(IPAddress.Loopback, port);

        using Socket fromInside = await Net.ConnectAsync(listener, "127.0.0.2");
        using Socket fromOutside = await Net.ConnectAsync(listener, "127.0.0.75");

        Assert.Equal("220 inside\r\n", Encoding.ASCII.GetString(await Net.ReceiveExactlyAsync(fromInside, 12)));
        Assert.Equal("220 outside\r\n", Encoding.ASCII.GetString(await Net.ReceiveExactlyAsync(fromOutside, 13)));
    }

    [Fact]
    public async Task Relay_SilentClientOnAProtocolListener_DefaultRouteOnlyOnceInspectTimeoutPassed()
    {
        var time = new FakeTimeProvider();
        await using var bastion = new ProxyBackend();
        await using var fallback = new ProxyBackend(banner: "220 fallback\r\n");
        int port = FreePort.Next();
        await using GatewayHost gateway = await GatewayHost.StartAsync(
            TwoRoutes(port, """ "Match": { "Protocol": [ "Ssh" ] }, "InspectTimeout": "00:00:05" """, bastion, fallback),
            services => services.AddSingleton<TimeProvider>(time));
        using Socket client = await Net.ConnectAsync(new IPEndPoint(IPAddress.Loopback, port), "127.0.0.76");

        // The connection's inspection starts at its accept, which the test cannot observe: the clock moves in steps of
        // half a second, and the banner may only come once at least InspectTimeout has been added.
        TimeSpan advanced = TimeSpan.Zero;
        while (!client.Poll(TimeSpan.FromMilliseconds(100), SelectMode.SelectRead))
        {
            Assert.True(advanced < TimeSpan.FromSeconds(30), "no banner after 30 s of the gateway's clock");
            time.Advance(TimeSpan.FromMilliseconds(500));
            advanced += TimeSpan.FromMilliseconds(500);
        }

        Assert.True(advanced >= TimeSpan.FromSeconds(5), $"relayed after {advanced} of the gateway's clock, before InspectTimeout");
        Assert.Equal("220 fallback\r\n", Encoding.ASCII.GetString(await Net.ReceiveExactlyAsync(client, 14)));
        Assert.Empty(bastion.Connections);
    }

    [Fact]
    public async Task Reload_MatchRouteAddedToAListeningEndpoint_NewConnectionsChooseItOpenOnesGoOn()
    {
        await using var a = new ProxyBackend();
        await using var fallback = new ProxyBackend();
        int port = FreePort.Next();
        string only = TwoRoutes(port, """ "Match": { "Sni": [ "a.example.test" ] } """, a, fallback);
        // First only the default route; then the SNI route joins it on the same, already listening, endpoint.
        string before = only.Replace(
            $$""" "matched": { "Listen": "127.0.0.1:{{port}}", "ClusterId": "m",  "Match": { "Sni": [ "a.example.test" ] }  },""",
            string.Empty,
            StringComparison.Ordinal);
        Assert.NotEqual(only, before);
        await using GatewayHost gateway = await GatewayHost.StartAsync(before);
        var endpoints = gateway.Services.GetRequiredService<ITcpProxyEndpoints>();
        var listener = new IPEndPoint(IPAddress.Loopback, port);
        byte[] hello = await ClientHellos.CaptureAsync("a.example.test");

        using Socket open = await Net.ConnectAsync(listener, "127.0.0.77");
        await Net.SendAllAsync(open, hello);
        Assert.Equal(hello, await Net.ReceiveExactlyAsync(open, hello.Length));
        await fallback.WaitForConnectionAsync();

        await File.WriteAllTextAsync(gateway.ConfigPath, only);
        await Net.WaitUntilAsync(() => endpoints.BoundEndPoints.Any(e => e.RouteId == "matched"), "route matched listening");

        using Socket next = await Net.ConnectAsync(listener, "127.0.0.78");
        await Net.SendAllAsync(next, hello);
        Assert.Equal(hello, await Net.ReceiveExactlyAsync(next, hello.Length));
        Assert.Equal("127.0.0.78", (await a.WaitForConnectionAsync()).Source!.Address.ToString());
        await Net.AssertEchoAsync(open, "still relayed");
        Assert.Single(fallback.Connections);
    }

    [Fact]
    public async Task Relay_UpstreamHeaderThenClientHello_RoutedBySniAndBySourceOfTheHeadersClient()
    {
        await using var a = new ProxyBackend();
        await using var inside = new ProxyBackend();
        await using var fallback = new ProxyBackend();
        int port = FreePort.Next();
        const string Accept = """ "AcceptProxyProtocol": { "TrustedNetworks": [ "127.0.0.0/8" ] } """;
        await using GatewayHost gateway = await GatewayHost.StartAsync($$"""
            {
              "ReverseProxy": { "Clusters": {
                "a": { "Metadata": { "ProxyProtocol": "v2" }, "Destinations": { "d": { "Address": "{{a.Address}}" } } },
                "inside": { "Metadata": { "ProxyProtocol": "v2" }, "Destinations": { "d": { "Address": "{{inside.Address}}" } } },
                "fallback": { "Metadata": { "ProxyProtocol": "v2" }, "Destinations": { "d": { "Address": "{{fallback.Address}}" } } } } },
              "TcpProxy": { "Routes": {
                "tls-a":   { "Listen": "127.0.0.1:{{port}}", "Match": { "Sni": [ "a.example.test" ] }, "ClusterId": "a", {{Accept}} },
                "inside":  { "Listen": "127.0.0.1:{{port}}", "Match": { "SourceNetworks": [ "203.0.113.0/24" ] }, "ClusterId": "inside", {{Accept}} },
                "default": { "Listen": "127.0.0.1:{{port}}", "ClusterId": "fallback", {{Accept}} } } }
            }
            """);
        var listener = new IPEndPoint(IPAddress.Loopback, port);
        byte[] hello = await ClientHellos.CaptureAsync("a.example.test");
        byte[] other = await ClientHellos.CaptureAsync("other.example.test");

        foreach ((string from, byte[] bytes, ProxyBackend expected) in new[] { ("198.51.100.7", hello, a), ("203.0.113.9", other, inside), ("198.51.100.8", other, fallback) })
        {
            byte[] header = Encoding.ASCII.GetBytes($"PROXY TCP4 {from} 192.0.2.1 40000 443\r\n");
            using Socket client = await Net.ConnectAsync(listener, "127.0.0.79");
            // The header and the ClientHello in one write: the route is chosen from the bytes after the header.
            await Net.SendAllAsync(client, header.Concat(bytes).ToArray());

            Assert.Equal(bytes, await Net.ReceiveExactlyAsync(client, bytes.Length));
            Assert.Equal(from, (await expected.WaitForConnectionAsync()).Source!.Address.ToString());
        }

        Assert.Single(a.Connections);
        Assert.Single(inside.Connections);
        Assert.Single(fallback.Connections);
    }

    [Fact]
    public async Task Relay_RequestHeadLongerThanMaxInspectBytes_DefaultRouteWithEveryByteRelayed()
    {
        await using var a = new ProxyBackend();
        await using var fallback = new ProxyBackend();
        int port = FreePort.Next();
        await using GatewayHost gateway = await GatewayHost.StartAsync(
            TwoRoutes(port, """ "Match": { "Host": [ "a.example.test" ] }, "MaxInspectBytes": 1024 """, a, fallback));
        // The Host field comes after 4 KiB of another field: past the limit, the route is chosen without it.
        byte[] request = Encoding.ASCII.GetBytes($"GET / HTTP/1.1\r\nX-Padding: {new string('p', 4096)}\r\nHost: a.example.test\r\n\r\n");
        using Socket client = await Net.ConnectAsync(new IPEndPoint(IPAddress.Loopback, port), "127.0.0.82");

        await Net.SendAllAsync(client, request);

        Assert.Equal(request, await Net.ReceiveExactlyAsync(client, request.Length));
        Assert.Equal("127.0.0.82", (await fallback.WaitForConnectionAsync()).Source!.Address.ToString());
        Assert.Empty(a.Connections);
    }

    [Fact]
    public async Task Connect_ChosenRouteAtMaxConnections_RefusedRCWhileTheOtherRouteOfTheListenerServes()
    {
        await using var a = new ProxyBackend();
        await using var fallback = new ProxyBackend();
        int port = FreePort.Next();
        await using GatewayHost gateway = await GatewayHost.StartAsync(
            TwoRoutes(port, """ "Match": { "Protocol": [ "Ssh" ] }, "MaxConnections": 1 """, a, fallback));
        using var measurements = GatewayMeasurements.Start(gateway);
        var listener = new IPEndPoint(IPAddress.Loopback, port);

        using Socket first = await Net.ConnectAsync(listener, "127.0.0.83");
        await Net.AssertEchoAsync(first, "SSH-2.0-first\r\n");
        using Socket second = await Net.ConnectAsync(listener, "127.0.0.84");
        await Net.SendAllAsync(second, "SSH-2.0-second\r\n"u8.ToArray());
        await Net.AssertClosedWithoutDataAsync(second);
        using Socket other = await Net.ConnectAsync(listener, "127.0.0.85");
        await Net.AssertEchoAsync(other, "EHLO other\r\n");

        await Net.WaitUntilAsync(() => measurements.Results("matched").Count == 1, "the refusal counted");
        Assert.Equal(["max_connections"], measurements.Results("matched"));
        Assert.Single(a.Connections);
        Assert.Single(fallback.Connections);
    }

    /// <summary>A route with <paramref name="match"/> to <paramref name="matched"/> and a default route to <paramref name="other"/>, on one port.</summary>
    private static string TwoRoutes(int port, string match, ProxyBackend matched, ProxyBackend other) => $$"""
        {
          "ReverseProxy": { "Clusters": {
            "m": { "Metadata": { "ProxyProtocol": "v2" }, "Destinations": { "d": { "Address": "{{matched.Address}}" } } },
            "o": { "Metadata": { "ProxyProtocol": "v2" }, "Destinations": { "d": { "Address": "{{other.Address}}" } } } } },
          "TcpProxy": { "Routes": {
            "matched": { "Listen": "127.0.0.1:{{port}}", "ClusterId": "m", {{match}} },
            "default": { "Listen": "127.0.0.1:{{port}}", "ClusterId": "o" } } }
        }
        """;
}
