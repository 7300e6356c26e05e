using System.Net;
using System.Net.Sockets;
using System.Text;
using ProxyKestrel.Gateway.Tests.Infrastructure;

namespace ProxyKestrel.Gateway.Tests;

public class AcceptProxyProtocolTests
{
    private const string Route = """, "AcceptProxyProtocol": { "TrustedNetworks": ["127.0.0.1/32"] }""";

    private static byte[] UpstreamHeader()
    {
        byte[] buffer = new byte[256];
        var writer = ProxyV2HeaderWriter.Proxy(buffer, IPAddress.Parse("198.51.100.7"), 5555, IPAddress.Parse("203.0.113.1"), 25);
        writer.AddAwsVpcEndpointId("vpce-0123456789abcdef0"u8);
        int length = writer.Complete();
        return buffer[..length];
    }

    [Fact]
    public async Task Relay_TrustedUpstreamV2Header_BackendSeesUpstreamAddressesAndPassedThroughAwsTlv()
    {
        await using var backend = new ProxyBackend();
        await using GatewayHost gateway = await GatewayHost.StartAsync(GatewayRelayTests.Config(backend.Address, "v2", Route, "passthrough"));
        using var client = await Net.ConnectAsync(gateway.EndPointOf("r1"), "127.0.0.1");

        byte[] header = UpstreamHeader();
        byte[] payload = Encoding.ASCII.GetBytes("EHLO example\r\n");
        await Net.SendAllAsync(client, (byte[])[.. header, .. payload]);
        Assert.Equal(payload, await Net.ReceiveExactlyAsync(client, payload.Length));

        BackendConnection seen = await backend.WaitForConnectionAsync();
        Assert.Equal(new IPEndPoint(IPAddress.Parse("198.51.100.7"), 5555), seen.Source);
        Assert.Equal(new IPEndPoint(IPAddress.Parse("203.0.113.1"), 25), seen.Destination);
        (byte _, byte[] aws) = Assert.Single(seen.Tlvs, t => t.Type == 0xEA);
        Assert.Equal([0x01, .. "vpce-0123456789abcdef0"u8.ToArray()], aws);
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public async Task Relay_UpstreamHeaderSplitAtEveryPointThenDataThenFin_RelayedAsUpstreamClientThenEof(bool finWithLastByte)
    {
        // A relaying proxy whose client half-closes: the header completes in the segment that also carries the data and
        // (with TCP_CORK) the FIN, or just before a FIN of its own. The gateway must relay, never refuse.
        await using var backend = new ProxyBackend();
        await using GatewayHost gateway = await GatewayHost.StartAsync(GatewayRelayTests.Config(backend.Address, "v2", Route, "passthrough"));
        byte[] header = UpstreamHeader();
        byte[] payload = Encoding.ASCII.GetBytes("QUIT\r\n");
        for (int split = 1; split < header.Length; split++)
        {
            using var client = await Net.ConnectAsync(gateway.EndPointOf("r1"), "127.0.0.1");
            client.NoDelay = true;
            await Net.SendAllAsync(client, header.AsMemory(0, split));
            if (finWithLastByte)
            {
                client.SetRawSocketOption(6, 3, BitConverter.GetBytes(1)); // TCP_CORK: the last bytes and the FIN in one segment
            }

            await Net.SendAllAsync(client, (byte[])[.. header[split..], .. payload]);
            client.Shutdown(SocketShutdown.Send);
            Assert.Equal(payload, await Net.ReceiveExactlyAsync(client, payload.Length));
            await Net.AssertEofAsync(client);
        }

        await backend.WaitForConnectionAsync(header.Length - 1);
        Assert.All(backend.Connections, c => Assert.Equal(new IPEndPoint(IPAddress.Parse("198.51.100.7"), 5555), c.Source));
    }

    [Fact]
    public async Task Connect_BadUpstreamHeader_ClosedAndBackendNeverContacted()
    {
        await using var backend = new ProxyBackend();
        await using GatewayHost gateway = await GatewayHost.StartAsync(GatewayRelayTests.Config(backend.Address, "v2", Route, "passthrough"));
        await Net.AssertRefusedAsync(gateway.EndPointOf("r1"), "127.0.0.1", "PROXY TCP9 nonsense here\r\nEHLO\r\n"u8.ToArray());
        await Task.Delay(100);
        Assert.Empty(backend.Connections);
    }

    [Fact]
    public async Task Connect_UntrustedSender_ClosedAndBackendNeverContacted()
    {
        await using var backend = new ProxyBackend();
        await using GatewayHost gateway = await GatewayHost.StartAsync(GatewayRelayTests.Config(backend.Address, "v2", Route, "passthrough"));
        await Net.AssertRefusedAsync(gateway.EndPointOf("r1"), "127.0.0.9", UpstreamHeader());
        await Task.Delay(100);
        Assert.Empty(backend.Connections);
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public async Task Connect_TrustedSenderClosesMidHeader_CountedHeaderRejectedAndBackendNeverContacted(bool reset)
    {
        var logs = new ListLoggerProvider();
        await using var backend = new ProxyBackend();
        await using GatewayHost gateway = await GatewayHost.StartAsync(GatewayRelayTests.Config(backend.Address, "v2", Route, "passthrough"), logger: logs);
        using var measurements = GatewayMeasurements.Start(gateway);
        using (var client = await Net.ConnectAsync(gateway.EndPointOf("r1"), "127.0.0.1"))
        {
            await Net.WaitUntilAsync(() => measurements.Active("r1") == 1, "the connection counted open");
            await Net.SendAllAsync(client, UpstreamHeader().AsMemory(0, 20));
            if (reset)
            {
                client.LingerState = new LingerOption(true, 0);
            }
        }

        await Net.WaitUntilAsync(() => measurements.Results("r1").Count == 1, "the connection counted closed");
        Assert.Equal(["header_rejected"], measurements.Results("r1"));
        Assert.Contains(logs.Entries, e => e.EventId.Name == "HeaderRejected" && e.Message.Contains("closed before a complete header", StringComparison.Ordinal));
        Assert.Empty(backend.Connections);
    }

    [Fact]
    public async Task Relay_OptionalModeTrustedPeerSendsNoHeader_RelayedAsItselfWithNothingConsumed()
    {
        await using var backend = new ProxyBackend();
        const string optional = """, "AcceptProxyProtocol": { "TrustedNetworks": ["127.0.0.1/32"], "Mode": "Optional" }""";
        await using GatewayHost gateway = await GatewayHost.StartAsync(GatewayRelayTests.Config(backend.Address, "v2", optional));
        using var client = await Net.ConnectAsync(gateway.EndPointOf("r1"), "127.0.0.1");

        await Net.AssertEchoAsync(client, "EHLO example\r\n");

        BackendConnection seen = await backend.WaitForConnectionAsync();
        Assert.Equal(IPAddress.Loopback, seen.Source!.Address);
        Assert.Equal(((IPEndPoint)client.LocalEndPoint!).Port, seen.Source.Port);
    }
}
