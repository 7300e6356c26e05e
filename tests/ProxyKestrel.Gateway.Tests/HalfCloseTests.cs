using System.Buffers;
using System.Net;
using System.Net.Sockets;
using System.Text;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Time.Testing;
using ProxyKestrel.Gateway.Tests.Infrastructure;

namespace ProxyKestrel.Gateway.Tests;

public class HalfCloseTests
{
    [Fact]
    public async Task Relay_ClientHalfClosesFirst_ClientGetsFullEchoThenEof()
    {
        await using var backend = new ProxyBackend();
        await using GatewayHost gateway = await GatewayHost.StartAsync(GatewayRelayTests.Config(backend.Address, "v2"));
        using var client = await Net.ConnectAsync(gateway.EndPointOf("r1"), "127.0.0.11");

        byte[] data = new byte[300_000];
        new Random(11).NextBytes(data);
        await Net.SendAllAsync(client, data);
        client.Shutdown(SocketShutdown.Send);

        byte[] echoed = await Net.ReceiveExactlyAsync(client, data.Length);
        Assert.Equal(data, echoed);
        await Net.AssertEofAsync(client);
    }

    [Fact]
    public async Task Relay_BackendHalfClosesFirst_ClientSeesEofAndCanStillSend()
    {
        using var listener = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        listener.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        listener.Listen(8);
        Task<string> backend = Task.Run(async () =>
        {
            using Socket socket = await listener.AcceptAsync().WaitAsync(Net.Timeout);
            byte[] buffer = new byte[4096];
            int filled = 0;
            ProxyHeader header;
            while (true)
            {
                int n = await socket.ReceiveAsync(buffer.AsMemory(filled), SocketFlags.None).AsTask().WaitAsync(Net.Timeout);
                Assert.NotEqual(0, n);
                filled += n;
                ProxyParseStatus status = ProxyHeaderParser.Parse(new ReadOnlySequence<byte>(buffer, 0, filled), out header, out _);
                Assert.NotEqual(ProxyParseStatus.Invalid, status);
                if (status == ProxyParseStatus.Complete)
                {
                    break;
                }
            }

            var received = new StringBuilder(Encoding.ASCII.GetString(buffer, header.Length, filled - header.Length));
            await socket.SendAsync("bye\n"u8.ToArray());
            socket.Shutdown(SocketShutdown.Send);
            while (true)
            {
                int n = await socket.ReceiveAsync(buffer, SocketFlags.None).WaitAsync(Net.Timeout);
                if (n == 0)
                {
                    return received.ToString();
                }

                received.Append(Encoding.ASCII.GetString(buffer, 0, n));
            }
        });
        string address = $"tcp://{listener.LocalEndPoint}";
        await using GatewayHost gateway = await GatewayHost.StartAsync(GatewayRelayTests.Config(address, "v2"));
        using var client = await Net.ConnectAsync(gateway.EndPointOf("r1"), "127.0.0.12");

        Assert.Equal("bye\n", Encoding.ASCII.GetString(await Net.ReceiveExactlyAsync(client, 4)));
        await Net.AssertEofAsync(client);

        await Net.SendAllAsync(client, "still "u8.ToArray());
        await Task.Delay(50);
        await Net.SendAllAsync(client, "talking"u8.ToArray());
        client.Shutdown(SocketShutdown.Send);

        Assert.Equal("still talking", await backend.WaitAsync(Net.Timeout));
    }

    [Fact]
    public async Task Relay_ClientSendsAndHalfClosesBeforeBackendConnects_BackendGetsDataThenEofAndClientGetsEcho()
    {
        // The first destination never answers: the client's data and FIN are in before the gateway gives up on it
        // (ConnectTimeout, on the fake clock) and connects to the second, which must still get both, in order.
        var time = new FakeTimeProvider();
        using var silent = SilentDestination.Create();
        await using var backend = new ProxyBackend();
        string json = $$"""
            {
              "ReverseProxy": { "Clusters": { "c1": {
                "LoadBalancingPolicy": "FirstAlphabetical",
                "Metadata": { "ProxyProtocol": "v2" },
                "Destinations": { "a-silent": { "Address": "tcp://{{silent.EndPoint}}" }, "b-live": { "Address": "{{backend.Address}}" } } } } },
              "TcpProxy": { "Routes": { "r1": { "Listen": "127.0.0.1:0", "ClusterId": "c1", "ConnectTimeout": "00:00:02", "IdleTimeout": "01:00:00" } } }
            }
            """;
        await using GatewayHost gateway = await GatewayHost.StartAsync(json, services => services.AddSingleton<TimeProvider>(time));
        using var measurements = GatewayMeasurements.Start(gateway);
        using var client = await Net.ConnectAsync(gateway.EndPointOf("r1"), "127.0.0.44");
        // Counted open right before the first connect starts its timeout: the clock moves only after.
        await Net.WaitUntilAsync(() => measurements.Active("r1") == 1, "the connection counted open");

        byte[] data = Encoding.ASCII.GetBytes("DATA sent before any backend\r\n");
        await Net.SendAllAsync(client, data);
        client.Shutdown(SocketShutdown.Send);
        time.Advance(TimeSpan.FromSeconds(2));

        Assert.Equal(data, await Net.ReceiveExactlyAsync(client, data.Length));
        await Net.AssertEofAsync(client);
        BackendConnection seen = await backend.WaitForConnectionAsync();
        Assert.Equal(IPAddress.Parse("127.0.0.44"), seen.Source!.Address);
        await Net.WaitUntilAsync(() => measurements.Results("r1").Count == 1, "the connection counted closed");
        Assert.Equal(["completed"], measurements.Results("r1"));
    }
}
