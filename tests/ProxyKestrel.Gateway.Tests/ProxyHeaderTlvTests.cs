using System.Text;
using ProxyKestrel.Gateway.Tests.Infrastructure;

namespace ProxyKestrel.Gateway.Tests;

public class ProxyHeaderTlvTests
{
    [Fact]
    public async Task Relay_V2WithUniqueIdAndCrc32C_BackendSeesUniqueIdAndVerifiedChecksum()
    {
        await using var backend = new ProxyBackend();
        await using GatewayHost gateway = await GatewayHost.StartAsync(GatewayRelayTests.Config(backend.Address, "v2", tlvs: "unique-id, crc32c"));

        using var first = await Net.ConnectAsync(gateway.EndPointOf("r1"), "127.0.0.4");
        await Net.AssertEchoAsync(first, "one");
        using var second = await Net.ConnectAsync(gateway.EndPointOf("r1"), "127.0.0.4");
        await Net.AssertEchoAsync(second, "two");

        BackendConnection a = await backend.WaitForConnectionAsync(1);
        BackendConnection b = await backend.WaitForConnectionAsync(2);
        foreach (BackendConnection seen in new[] { a, b })
        {
            // The backend's parser rejects a header whose CRC32C does not match, so reaching here means it verified.
            Assert.Equal(ProxyProtocolVersion.V2, seen.Version);
            Assert.Single(seen.Tlvs, t => t.Type == (byte)ProxyTlvType.Crc32C && t.Value.Length == 4);
            (byte _, byte[] id) = Assert.Single(seen.Tlvs, t => t.Type == (byte)ProxyTlvType.UniqueId);
            Assert.InRange(id.Length, 1, 128);
        }

        Assert.NotEqual(
            Encoding.ASCII.GetString(a.Tlvs.Single(t => t.Type == (byte)ProxyTlvType.UniqueId).Value),
            Encoding.ASCII.GetString(b.Tlvs.Single(t => t.Type == (byte)ProxyTlvType.UniqueId).Value));
        Assert.DoesNotContain(backend.Errors, e => e.Message.Contains("PROXY", StringComparison.Ordinal));
    }
}
