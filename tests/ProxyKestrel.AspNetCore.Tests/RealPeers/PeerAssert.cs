using System.Text;
using System.Text.Json;
using ProxyKestrel.AspNetCore.Tests.Infrastructure;

namespace ProxyKestrel.AspNetCore.Tests.RealPeers;

/// <summary>Shared pieces of the real-peer tests: starting the sample behind a proxy, one request, and the checks.</summary>
internal static class PeerAssert
{
    public static readonly TimeSpan Timeout = TimeSpan.FromSeconds(10);

    /// <summary>The sample trusting only 127.0.0.1 (the proxy): a client reaching it directly would be rejected.</summary>
    public static Task<WebAppProcess> StartAppBehindProxyAsync() =>
        WebAppProcess.StartAsync(["--ProxyProtocol:TrustedNetworks:0=127.0.0.1/32"]);

    /// <summary>Sends <c>GET /</c> from <paramref name="source"/> to 127.0.0.1:<paramref name="port"/> and returns the JSON body.</summary>
    public static async Task<JsonElement> GetAsync(int port, string source, WebAppProcess app, PeerProcess peer)
    {
        byte[] request = Encoding.ASCII.GetBytes("GET / HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n");
        string response = await RawHttpClient.ExchangeAsync(port, source, Timeout, request);
        return Parse(response, app, peer.Name, peer.Output);
    }

    /// <summary>The JSON body, or a failure carrying both processes' output.</summary>
    public static JsonElement Parse(string response, WebAppProcess app, string peerName, string peerOutput)
    {
        try
        {
            return RawHttpClient.JsonBody(response);
        }
        catch (Exception e) when (e is InvalidOperationException or JsonException or ArgumentOutOfRangeException)
        {
            throw new InvalidOperationException(
                $"Unexpected response: {e.Message}\n--- WebApp output ---\n{app.Output}\n--- {peerName} output ---\n{peerOutput}", e);
        }
    }

    /// <summary>The app saw the client (not the proxy) and the header came from the proxy at 127.0.0.1.</summary>
    public static JsonElement AssertProxied(JsonElement json, string client, int version, int proxyListenPort)
    {
        Assert.Equal(client, json.GetProperty("remoteIp").GetString());
        Assert.Equal("127.0.0.1", json.GetProperty("localIp").GetString());
        Assert.Equal(proxyListenPort, json.GetProperty("localPort").GetInt32());
        JsonElement proxy = json.GetProperty("proxyProtocol");
        Assert.Equal(JsonValueKind.Object, proxy.ValueKind);
        Assert.Equal(version, proxy.GetProperty("version").GetInt32());
        Assert.Equal("Proxy", proxy.GetProperty("command").GetString());
        Assert.Equal("127.0.0.1", proxy.GetProperty("proxyIp").GetString());
        return proxy;
    }
}
