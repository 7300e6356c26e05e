using System.Text;
using System.Text.Json;
using ProxyKestrel.AspNetCore.Tests.Infrastructure;

namespace ProxyKestrel.AspNetCore.Tests.RealPeers;

/// <summary>
/// A real HAProxy (<c>haproxy -db -f cfg</c>) in front of the real sample process, sending the PROXY header with
/// <c>send-proxy</c> / <c>send-proxy-v2</c>. HAProxy missing is a failure, never a skip.
/// </summary>
public class HaproxyTests
{
    [Fact]
    public async Task Get_ThroughHaproxyTcpSendProxy_ReportsClientWithV1()
    {
        await using WebAppProcess app = await PeerAssert.StartAppBehindProxyAsync();
        int port = FreePort.Next();
        await using PeerProcess haproxy = await StartHaproxyAsync(port, "tcp", $"server s1 127.0.0.1:{app.Port} send-proxy");

        JsonElement json = await PeerAssert.GetAsync(port, "127.0.0.2", app, haproxy);

        PeerAssert.AssertProxied(json, "127.0.0.2", 1, port);
    }

    [Fact]
    public async Task Get_ThroughHaproxyTcpSendProxyV2_ReportsClientWithV2()
    {
        await using WebAppProcess app = await PeerAssert.StartAppBehindProxyAsync();
        int port = FreePort.Next();
        await using PeerProcess haproxy = await StartHaproxyAsync(port, "tcp", $"server s1 127.0.0.1:{app.Port} send-proxy-v2");

        JsonElement json = await PeerAssert.GetAsync(port, "127.0.0.3", app, haproxy);

        JsonElement proxy = PeerAssert.AssertProxied(json, "127.0.0.3", 2, port);
        // Plain send-proxy-v2 sends no TLV at all: absent values are null, not empty.
        Assert.Empty(proxy.GetProperty("tlvs").EnumerateArray());
        Assert.Equal(JsonValueKind.Null, proxy.GetProperty("uniqueId").ValueKind);
        Assert.Equal(JsonValueKind.Null, proxy.GetProperty("alpn").ValueKind);
        Assert.Equal(JsonValueKind.Null, proxy.GetProperty("authority").ValueKind);
    }

    [Fact]
    public async Task Get_ThroughHaproxyTcpSendProxyV2WithOptions_ReportsCrc32cAndUniqueId()
    {
        await using WebAppProcess app = await PeerAssert.StartAppBehindProxyAsync();
        int port = FreePort.Next();
        await using PeerProcess haproxy = await StartHaproxyAsync(
            port,
            "tcp",
            $"server s1 127.0.0.1:{app.Port} send-proxy-v2 proxy-v2-options authority,unique-id,crc32c",
            @"unique-id-format %{+X}o\ %ci:%cp_%fi:%fp_%Ts_%rt:%pid");

        JsonElement json = await PeerAssert.GetAsync(port, "127.0.0.4", app, haproxy);

        JsonElement proxy = PeerAssert.AssertProxied(json, "127.0.0.4", 2, port);
        List<int> types = [.. proxy.GetProperty("tlvs").EnumerateArray().Select(t => t.GetProperty("type").GetInt32())];
        Assert.Contains(0x03, types); // PP2_TYPE_CRC32C: our parser verified it, or the connection would be gone.
        Assert.Contains(0x05, types); // PP2_TYPE_UNIQUE_ID
        // HAProxy 2.6 sends the authority only for a TLS client that used SNI: not here.
        Assert.DoesNotContain(0x02, types);
        Assert.Equal(JsonValueKind.Null, proxy.GetProperty("authority").ValueKind);
        string uniqueId = Encoding.ASCII.GetString(Convert.FromBase64String(proxy.GetProperty("uniqueId").GetString()!));
        // %{+X}o: addresses and ports in hex, so the client 127.0.0.4 is 7F000004.
        Assert.StartsWith("7F000004:", uniqueId, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Get_ThroughHaproxyHttpSendProxyV2_ReportsClient()
    {
        await using WebAppProcess app = await PeerAssert.StartAppBehindProxyAsync();
        int port = FreePort.Next();
        await using PeerProcess haproxy = await StartHaproxyAsync(
            port,
            "http",
            $"server s1 127.0.0.1:{app.Port} send-proxy-v2",
            "option http-server-close");

        JsonElement json = await PeerAssert.GetAsync(port, "127.0.0.6", app, haproxy);

        PeerAssert.AssertProxied(json, "127.0.0.6", 2, port);
    }

    private static Task<PeerProcess> StartHaproxyAsync(int port, string mode, string server, params string[] frontendLines) =>
        HaproxyPeer.StartAsync(port, mode, server, tls: null, frontendLines);
}
