using System.Buffers;
using System.Net;
using System.Net.Sockets;
using System.Text;
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
}
