using System.Net;
using System.Net.Sockets;
using System.Runtime.Versioning;
using System.Text;
using ProxyKestrel.Gateway.Configuration;
using ProxyKestrel.Gateway.Transports.Epoll;
using ProxyKestrel.Gateway.Tests.Infrastructure;

namespace ProxyKestrel.Gateway.Tests.Transports.Epoll;

/// <summary>
/// The epoll transport's listening side, whatever transport the environment selects for the rest of the suite: every
/// gateway here is pinned to <see cref="TcpProxyTransport.Epoll"/>. Serial, because the descriptor count of the
/// process is only meaningful when no other test opens or closes sockets meanwhile.
/// </summary>
[SupportedOSPlatform("linux")]
[Collection(TimingSensitive.Name)]
public class EpollRouteTransportTests
{
    private static string Config(string backendAddress, string listen = "127.0.0.1:0") => $$"""
        {
          "ReverseProxy": { "Clusters": { "c1": {
            "Metadata": { "ProxyProtocol": "v2" },
            "Destinations": { "d1": { "Address": "{{backendAddress}}" } } } } },
          "TcpProxy": { "DrainTimeout": "00:00:00.300", "Routes": { "r1": { "Listen": "{{listen}}", "ClusterId": "c1" } } }
        }
        """;

    [LinuxFact]
    public async Task Accept_200ConcurrentClientsFromSeveralAddresses_AllEchoedWithTheirOwnAddress()
    {
        const int clients = 200;
        const int addresses = 8;
        await using var backend = new ProxyBackend();
        var log = new ListLoggerProvider();
        await using GatewayHost gateway = await GatewayHost.StartAsync(Config(backend.Address), logger: log, transport: TcpProxyTransport.Epoll);
        // The pin works: the gateway really runs the epoll transport (event 111, TransportSelected).
        Assert.Contains(log.Entries, e => e.EventId.Id == 111 && e.Message.Contains("the Epoll transport", StringComparison.Ordinal));
        IPEndPoint listen = gateway.EndPointOf("r1");

        var sockets = new Socket[clients];
        try
        {
            // All connected before any byte flows: 200 connections open at once on the loops.
            await Task.WhenAll(Enumerable.Range(0, clients).Select(async i =>
                sockets[i] = await Net.ConnectAsync(listen, $"127.0.0.{2 + (i % addresses)}")));

            // Distinct payloads of distinct lengths: a byte relayed to the wrong client or lost shows.
            await Task.WhenAll(Enumerable.Range(0, clients).Select(i =>
                Net.AssertEchoAsync(sockets[i], $"client {i} from {sockets[i].LocalEndPoint} " + new string((char)('a' + (i % 26)), i * 37))));

            await backend.WaitForConnectionAsync(clients);
            HashSet<IPEndPoint> expected = [.. sockets.Select(s => (IPEndPoint)s.LocalEndPoint!)];
            HashSet<IPEndPoint> seen = [.. backend.Connections.Select(c => c.Source!)];
            Assert.Equal(clients, expected.Count);
            Assert.Equal(addresses, expected.Select(e => e.Address).Distinct().Count());
            Assert.Equal(expected, seen);
            Assert.All(backend.Connections, c => Assert.Equal(listen, c.Destination));

            // Every client half-closes: the FIN goes through the backend and comes back as EOF.
            foreach (Socket socket in sockets)
            {
                socket.Shutdown(SocketShutdown.Send);
            }

            await Task.WhenAll(sockets.Select(s => Net.AssertEofAsync(s)));
            Assert.Empty(backend.Errors);
        }
        finally
        {
            foreach (Socket? socket in sockets)
            {
                socket?.Dispose();
            }
        }
    }

    [LinuxFact]
    public async Task Bind_TwoRoutesOnPortZero_GetDistinctPortsEachRelayingToItsCluster()
    {
        await using var first = new ProxyBackend();
        await using var second = new ProxyBackend();
        string json = $$"""
            {
              "ReverseProxy": { "Clusters": {
                "c1": { "Metadata": { "ProxyProtocol": "v2" }, "Destinations": { "d1": { "Address": "{{first.Address}}" } } },
                "c2": { "Metadata": { "ProxyProtocol": "v2" }, "Destinations": { "d1": { "Address": "{{second.Address}}" } } } } },
              "TcpProxy": { "Routes": {
                "r1": { "Listen": "127.0.0.1:0", "ClusterId": "c1" },
                "r2": { "Listen": "127.0.0.1:0", "ClusterId": "c2" } } }
            }
            """;
        await using GatewayHost gateway = await GatewayHost.StartAsync(json, transport: TcpProxyTransport.Epoll);

        // One endpoint per route (not one per loop), each on a port the system chose.
        IPEndPoint r1 = Assert.Single(gateway.EndPointsOf("r1"));
        IPEndPoint r2 = Assert.Single(gateway.EndPointsOf("r2"));
        Assert.NotEqual(0, r1.Port);
        Assert.NotEqual(0, r2.Port);
        Assert.NotEqual(r1.Port, r2.Port);

        // Several connections per route, so that every loop's listening socket of the port is likely used.
        for (int i = 0; i < 6; i++)
        {
            using (Socket client = await Net.ConnectAsync(r1, "127.0.0.2"))
            {
                await Net.AssertEchoAsync(client, $"to r1 #{i}");
            }

            using (Socket client = await Net.ConnectAsync(r2, "127.0.0.3"))
            {
                await Net.AssertEchoAsync(client, $"to r2 #{i}");
            }
        }

        Assert.Equal(6, first.Connections.Count);
        Assert.Equal(6, second.Connections.Count);
        Assert.All(first.Connections, c => Assert.Equal(r1, c.Destination));
        Assert.All(second.Connections, c => Assert.Equal(r2, c.Destination));
    }

    [LinuxFact]
    public async Task Start_ListenPortHeldByTcpListener_FailsAndLeavesTheListenerAlone()
    {
        var held = new TcpListener(IPAddress.Loopback, 0);
        held.Start();
        try
        {
            int port = ((IPEndPoint)held.LocalEndpoint).Port;

            Exception e = await Assert.ThrowsAnyAsync<Exception>(
                () => GatewayHost.StartAsync(Config("tcp://127.0.0.1:1", $"127.0.0.1:{port}"), transport: TcpProxyTransport.Epoll));

            string message = Net.AllMessages(e);
            Assert.Contains($"127.0.0.1:{port}", message);
            Assert.Contains("address already in use", message, StringComparison.OrdinalIgnoreCase);

            // The gateway did not take or share the port: the listener still gets every connection.
            for (int i = 0; i < 4; i++)
            {
                using Socket client = await Net.ConnectAsync(new IPEndPoint(IPAddress.Loopback, port), "127.0.0.4");
                using TcpClient accepted = await held.AcceptTcpClientAsync().WaitAsync(Net.Timeout);
                Assert.Equal(client.LocalEndPoint, accepted.Client.RemoteEndPoint);
            }
        }
        finally
        {
            held.Stop();
        }
    }

    [LinuxFact]
    public async Task Start_ListenPortHeldByAnotherEpollGateway_Fails()
    {
        // The second gateway must not silently share the port (and take part of the first one's clients), as the
        // sockets transport would not either.
        await using var backend = new ProxyBackend();
        await using GatewayHost first = await GatewayHost.StartAsync(Config(backend.Address), transport: TcpProxyTransport.Epoll);
        IPEndPoint taken = first.EndPointOf("r1");

        Exception e = await Assert.ThrowsAnyAsync<Exception>(
            () => GatewayHost.StartAsync(Config("tcp://127.0.0.1:1", $"127.0.0.1:{taken.Port}"), transport: TcpProxyTransport.Epoll));

        Assert.Contains("address already in use", Net.AllMessages(e), StringComparison.OrdinalIgnoreCase);
    }

    [LinuxFact]
    public async Task Accept_ClientSockets_InheritTcpNoDelayFromTheListener()
    {
        const int clients = 4;
        await using var backend = new ProxyBackend();
        await using GatewayHost gateway = await GatewayHost.StartAsync(Config(backend.Address), transport: TcpProxyTransport.Epoll);
        IPEndPoint listen = gateway.EndPointOf("r1");
        var sockets = new List<Socket>();
        try
        {
            for (int i = 0; i < clients; i++)
            {
                sockets.Add(await Net.ConnectAsync(listen, $"127.0.0.{30 + i}"));
            }

            await Task.WhenAll(sockets.Select((s, i) => Net.AssertEchoAsync(s, $"client {i}")));

            // The gateway runs in this process: its sockets bound to the route's endpoint are the listening socket and
            // the accepted client sockets. The transport sets TCP_NODELAY on the listener only and relies on Linux
            // passing it on to accepted sockets (no setsockopt per connection); small relayed writes must not wait
            // for Nagle.
            List<(int Fd, int NoDelay)> bound = SocketsBoundTo(listen);
            Assert.True(bound.Count >= 1 + clients, $"{bound.Count} sockets bound to {listen}, expected the listener and {clients} clients");
            Assert.All(bound, s => Assert.True(s.NoDelay == 1, $"descriptor {s.Fd} has TCP_NODELAY {s.NoDelay}"));
        }
        finally
        {
            sockets.ForEach(s => s.Dispose());
        }
    }

    /// <summary>This process's sockets whose local address is <paramref name="endPoint"/>, with their TCP_NODELAY.</summary>
    private static unsafe List<(int Fd, int NoDelay)> SocketsBoundTo(IPEndPoint endPoint)
    {
        var found = new List<(int, int)>();
        foreach ((int fd, string target) in Descriptors())
        {
            if (!target.StartsWith("socket:", StringComparison.Ordinal) || !endPoint.Equals(LinuxNative.LocalEndPoint(fd)))
            {
                continue;
            }

            int value = -1;
            uint length = sizeof(int);
            Assert.Equal(0, LinuxNative.GetSockOpt(fd, LinuxNative.IpProtoTcp, LinuxNative.TcpNoDelay, &value, &length));
            found.Add((fd, value));
        }

        return found;
    }

    [LinuxFact]
    public async Task Dispose_AfterRelaying_FreesThePortAndEveryDescriptor()
    {
        const int cycles = 3;
        const int connectionsPerCycle = 40;
        await using var backend = new ProxyBackend();

        // Warm-up: descriptors the runtime opens once and keeps (the socket engine's epoll instance and pipe, files
        // read at first use) are opened here, before the count.
        await RunGatewayAsync(backend, 1);
        Dictionary<int, string> before = await SettledDescriptorsAsync();

        for (int cycle = 0; cycle < cycles; cycle++)
        {
            int port = await RunGatewayAsync(backend, connectionsPerCycle);

            // The listening socket is closed: a plain listener can take the port.
            var listener = new TcpListener(IPAddress.Loopback, port);
            listener.Start();
            listener.Stop();
        }

        Dictionary<int, string> after = await SettledDescriptorsAsync(expected: before.Count);
        string diff = Diff(before, after);

        // Exact for what only the transport opens: each loop's epoll instance and eventfd (the runtime's own epoll
        // instance was opened during the warm-up and stays).
        Assert.True(Count(before, "anon_inode:[eventpoll]") == Count(after, "anon_inode:[eventpoll]"), "epoll instances leaked: " + diff);
        Assert.True(Count(before, "anon_inode:[eventfd]") == Count(after, "anon_inode:[eventfd]"), "eventfds leaked: " + diff);
        Assert.True(Count(before, "socket:") >= Count(after, "socket:"), "sockets leaked: " + diff);

        // Everything else within a small tolerance: the runtime and the test host may open a descriptor or two lazily
        // and keep it (a file under /proc or /sys read once, a diagnostics channel). A leak of the transport is far
        // above it: 2 sockets per connection (120 per cycle here) or 2 + 1 per loop and listener per gateway.
        Assert.True(after.Count <= before.Count + 3, $"{before.Count} descriptors before, {after.Count} after {cycles} gateways: " + diff);
    }

    /// <summary>Starts an epoll gateway, relays <paramref name="connections"/> echoes, closes them, disposes it; its port.</summary>
    private static async Task<int> RunGatewayAsync(ProxyBackend backend, int connections)
    {
        int port;
        await using (GatewayHost gateway = await GatewayHost.StartAsync(Config(backend.Address), transport: TcpProxyTransport.Epoll))
        {
            IPEndPoint listen = gateway.EndPointOf("r1");
            port = listen.Port;
            var sockets = new List<Socket>();
            try
            {
                for (int i = 0; i < connections; i++)
                {
                    sockets.Add(await Net.ConnectAsync(listen, $"127.0.0.{5 + (i % 4)}"));
                }

                await Task.WhenAll(sockets.Select((s, i) => Net.AssertEchoAsync(s, $"cycle connection {i}")));
                foreach (Socket socket in sockets)
                {
                    socket.Shutdown(SocketShutdown.Send);
                }

                await Task.WhenAll(sockets.Select(s => Net.AssertEofAsync(s)));
            }
            finally
            {
                sockets.ForEach(s => s.Dispose());
            }

            // Half as many stay open on the gateway's side until disposal: dispose must close those too.
            sockets.Clear();
            for (int i = 0; i < connections / 2; i++)
            {
                Socket open = await Net.ConnectAsync(listen, "127.0.0.9");
                await Net.AssertEchoAsync(open, "open at dispose");
                sockets.Add(open);
            }

            // Disposal waits DrainTimeout (300 ms) for them, then closes them: the clients see the end.
            await gateway.DisposeAsync();
            try
            {
                await Task.WhenAll(sockets.Select(s => Net.AssertClosedAsync(s, Net.Timeout)));
            }
            finally
            {
                sockets.ForEach(s => s.Dispose());
            }
        }

        return port;
    }

    /// <summary>
    /// The process's descriptors and what they point to, once the count stops changing (closes by finalizers and the
    /// backend's connection tasks happen a little later) or reaches <paramref name="expected"/>.
    /// </summary>
    private static async Task<Dictionary<int, string>> SettledDescriptorsAsync(int? expected = null)
    {
        Dictionary<int, string> current = Descriptors();
        long deadline = Environment.TickCount64 + 5_000;
        while (Environment.TickCount64 < deadline && !(expected is { } target && current.Count <= target))
        {
            GC.Collect();
            GC.WaitForPendingFinalizers();
            await Task.Delay(200);
            Dictionary<int, string> next = Descriptors();
            if (expected is null && next.Count == current.Count)
            {
                return next;
            }

            current = next;
        }

        return current;
    }

    /// <summary>This process's descriptors, fd → target, without the assemblies and native libraries it maps.</summary>
    private static Dictionary<int, string> Descriptors() =>
        // Assemblies and native libraries the runtime maps at first use stay open for good: not a leak.
        SlowlorisProcfs.Descriptors(Environment.ProcessId)
            .Where(d => !d.Value.EndsWith(".dll", StringComparison.Ordinal) && !d.Value.Contains(".so", StringComparison.Ordinal))
            .ToDictionary();

    private static int Count(Dictionary<int, string> descriptors, string prefix) =>
        descriptors.Values.Count(t => t.StartsWith(prefix, StringComparison.Ordinal));

    private static string Diff(Dictionary<int, string> before, Dictionary<int, string> after)
    {
        var text = new StringBuilder("new: ");
        foreach ((int fd, string target) in after.Where(a => !before.TryGetValue(a.Key, out string? t) || t != a.Value).Take(20))
        {
            text.Append(fd).Append("->").Append(target).Append(", ");
        }

        return text.ToString();
    }
}
