using System.Text;
using ProxyKestrel.Gateway.Tests.Infrastructure;

namespace ProxyKestrel.Gateway.Tests;

public class SpeakFirstTests
{
    [Theory]
    [InlineData("v1", "127.0.0.7")]
    [InlineData("v2", "127.0.0.8")]
    public async Task Relay_ServerSpeaksFirst_HeaderArrivesBeforeAnyClientByteAndBannerReachesSilentClient(string version, string from)
    {
        // The client never sends a byte: the backend still parses a complete header (so the gateway sent it on
        // connect, not with the first client byte) and its banner reaches the client.
        await using var backend = new ProxyBackend(banner: "220 smtp ready\r\n");
        await using GatewayHost gateway = await GatewayHost.StartAsync(GatewayRelayTests.Config(backend.Address, version));

        using var client = await Net.ConnectAsync(gateway.EndPointOf("r1"), from);
        byte[] banner = await Net.ReceiveExactlyAsync(client, "220 smtp ready\r\n".Length);

        Assert.Equal("220 smtp ready\r\n", Encoding.ASCII.GetString(banner));
        BackendConnection seen = await backend.WaitForConnectionAsync();
        Assert.Equal(version == "v1" ? ProxyProtocolVersion.V1 : ProxyProtocolVersion.V2, seen.Version);
        Assert.Equal(from, seen.Source!.Address.ToString());
        Assert.Empty(backend.Errors);
    }
}
