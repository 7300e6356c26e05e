using System.Text.Json;
using ProxyKestrel.AspNetCore.Tests.Infrastructure;

namespace ProxyKestrel.AspNetCore.Tests.RealPeers;

/// <summary>
/// A real curl with <c>--haproxy-protocol</c> straight against the sample: curl writes a v1 header carrying its own
/// socket addresses. curl missing is a failure, never a skip.
/// </summary>
public class CurlTests
{
    [Fact]
    public async Task Get_CurlHaproxyProtocol_ReportsCurlSourceWithV1()
    {
        string curl = PeerProcess.FindExecutable("curl", "curl");
        await using WebAppProcess app = await WebAppProcess.StartAsync();

        string response = await PeerProcess.RunAsync(
            curl, "-s", "-i", "--max-time", "10", "--haproxy-protocol", "--interface", "127.0.0.5", $"http://127.0.0.1:{app.Port}/");

        JsonElement json = PeerAssert.Parse(response, app, "curl", response);
        Assert.Equal("127.0.0.5", json.GetProperty("remoteIp").GetString());
        Assert.Equal(app.Port, json.GetProperty("localPort").GetInt32());
        JsonElement proxy = json.GetProperty("proxyProtocol");
        Assert.Equal(1, proxy.GetProperty("version").GetInt32());
        Assert.Equal("Proxy", proxy.GetProperty("command").GetString());
        // curl is both the client and the proxy: the header's source is the connection's own source.
        Assert.Equal("127.0.0.5", proxy.GetProperty("proxyIp").GetString());
        Assert.Equal(json.GetProperty("remotePort").GetInt32(), proxy.GetProperty("proxyPort").GetInt32());
        Assert.Equal(JsonValueKind.Null, proxy.GetProperty("alpn").ValueKind);
        Assert.Equal(JsonValueKind.Null, proxy.GetProperty("uniqueId").ValueKind);
        Assert.Empty(proxy.GetProperty("tlvs").EnumerateArray());
    }
}
