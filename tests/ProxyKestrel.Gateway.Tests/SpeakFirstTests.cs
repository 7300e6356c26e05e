using System.Net;
using System.Text;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Time.Testing;
using ProxyKestrel.Gateway.Tests.Infrastructure;

namespace ProxyKestrel.Gateway.Tests;

public class SpeakFirstTests
{
    private const string Banner = "220 smtp ready\r\n";

    /// <summary>A route that reads PROXY headers from 127.0.0.1 and lets every other peer through as itself.</summary>
    private static string AcceptRoute(string mode) =>
        $$""", "ConnectTimeout": "00:00:05", "AcceptProxyProtocol": { "TrustedNetworks": ["127.0.0.1/32"], "UntrustedPeers": "Passthrough", "Mode": "{{mode}}", "HeaderTimeout": "00:00:03" }""";

    [Theory]
    [InlineData("v1", "127.0.0.7")]
    [InlineData("v2", "127.0.0.8")]
    public async Task Relay_ServerSpeaksFirst_HeaderArrivesBeforeAnyClientByteAndBannerReachesSilentClient(string version, string from)
    {
        // The client never sends a byte: the backend still parses a complete header (so the gateway sent it on
        // connect, not with the first client byte) and its banner reaches the client.
        await using var backend = new ProxyBackend(banner: Banner);
        await using GatewayHost gateway = await GatewayHost.StartAsync(GatewayRelayTests.Config(backend.Address, version));

        using var client = await Net.ConnectAsync(gateway.EndPointOf("r1"), from);
        byte[] banner = await Net.ReceiveExactlyAsync(client, Banner.Length);

        Assert.Equal(Banner, Encoding.ASCII.GetString(banner));
        BackendConnection seen = await backend.WaitForConnectionAsync();
        Assert.Equal(version == "v1" ? ProxyProtocolVersion.V1 : ProxyProtocolVersion.V2, seen.Version);
        Assert.Equal(from, seen.Source!.Address.ToString());
        Assert.Empty(backend.Errors);
    }

    [Theory]
    [InlineData("Required", "127.0.0.40")]
    [InlineData("Optional", "127.0.0.41")]
    public async Task Relay_AcceptProxyProtocolUntrustedPassthroughClientStaysSilent_DialledAtOnceAndBannerArrives(string mode, string from)
    {
        // The clock never moves: a gateway that waited for the client's first byte, or for any timeout, before
        // dialling would never show the banner.
        var time = new FakeTimeProvider();
        await using var backend = new ProxyBackend(banner: Banner);
        await using GatewayHost gateway = await GatewayHost.StartAsync(
            GatewayRelayTests.Config(backend.Address, "v2", AcceptRoute(mode)),
            services => services.AddSingleton<TimeProvider>(time));

        using var client = await Net.ConnectAsync(gateway.EndPointOf("r1"), from);
        byte[] banner = await Net.ReceiveExactlyAsync(client, Banner.Length, TimeSpan.FromSeconds(5));

        Assert.Equal(Banner, Encoding.ASCII.GetString(banner));
        BackendConnection seen = await backend.WaitForConnectionAsync();
        Assert.Equal(IPAddress.Parse(from), seen.Source!.Address);
        Assert.Equal(((IPEndPoint)client.LocalEndPoint!).Port, seen.Source.Port);
        await Net.AssertEchoAsync(client, "EHLO example\r\n");
        Assert.Empty(backend.Errors);
    }

    [Theory]
    [InlineData("Required")]
    [InlineData("Optional")]
    public async Task Relay_AcceptProxyProtocolTrustedClientSendsHeaderThenWaits_BannerArrivesAndBackendSeesHeaderClient(string mode)
    {
        var time = new FakeTimeProvider();
        await using var backend = new ProxyBackend(banner: Banner);
        await using GatewayHost gateway = await GatewayHost.StartAsync(
            GatewayRelayTests.Config(backend.Address, "v2", AcceptRoute(mode)),
            services => services.AddSingleton<TimeProvider>(time));

        using var client = await Net.ConnectAsync(gateway.EndPointOf("r1"), "127.0.0.1");
        byte[] header = new byte[64];
        int length = ProxyV2HeaderWriter.Proxy(header, IPAddress.Parse("198.51.100.40"), 4040, IPAddress.Parse("203.0.113.25"), 25).Complete();
        await Net.SendAllAsync(client, header.AsMemory(0, length));
        byte[] banner = await Net.ReceiveExactlyAsync(client, Banner.Length, TimeSpan.FromSeconds(5));

        Assert.Equal(Banner, Encoding.ASCII.GetString(banner));
        BackendConnection seen = await backend.WaitForConnectionAsync();
        Assert.Equal(new IPEndPoint(IPAddress.Parse("198.51.100.40"), 4040), seen.Source);
        Assert.Equal(new IPEndPoint(IPAddress.Parse("203.0.113.25"), 25), seen.Destination);
        await Net.AssertEchoAsync(client, "EHLO example\r\n");
        Assert.Empty(backend.Errors);
    }

    [Theory]
    [InlineData("Required")]
    [InlineData("Optional")]
    public async Task Connect_AcceptProxyProtocolTrustedClientSendsNothing_ClosedAtHeaderTimeoutAndBackendNeverContacted(string mode)
    {
        // A trusted peer owes a header (Optional too: only bytes that cannot start one say there is none), so a
        // silent one is held up to HeaderTimeout and no longer; the backend is never dialled for it.
        var time = new FakeTimeProvider();
        await using var backend = new ProxyBackend(banner: Banner);
        await using GatewayHost gateway = await GatewayHost.StartAsync(
            GatewayRelayTests.Config(backend.Address, "v2", AcceptRoute(mode)),
            services => services.AddSingleton<TimeProvider>(time));
        using var measurements = GatewayMeasurements.Start(gateway);

        using var client = await Net.ConnectAsync(gateway.EndPointOf("r1"), "127.0.0.1");
        // Counted open right before the header wait starts: the clock moves only once that wait has its deadline.
        await Net.WaitUntilAsync(() => measurements.Active("r1") == 1, "the connection counted open");
        time.Advance(TimeSpan.FromSeconds(2.5));
        // Still open before HeaderTimeout: nothing to read and no close.
        Assert.False(client.Poll(TimeSpan.FromMilliseconds(300), System.Net.Sockets.SelectMode.SelectRead), "closed before HeaderTimeout");

        time.Advance(TimeSpan.FromSeconds(1));
        await Net.AssertClosedWithoutDataAsync(client);
        await Net.WaitUntilAsync(() => measurements.Results("r1").Count == 1, "the connection counted closed");
        Assert.Equal(["header_timeout"], measurements.Results("r1"));
        Assert.Empty(backend.Connections);
    }
}
