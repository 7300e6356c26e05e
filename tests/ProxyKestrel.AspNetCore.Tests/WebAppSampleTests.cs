using System.Text;
using System.Text.Json;
using ProxyKestrel.AspNetCore.Tests.Infrastructure;

namespace ProxyKestrel.AspNetCore.Tests;

public class WebAppSampleTests
{
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(10);

    [Fact]
    public async Task Get_V1HeaderAndRequestInOneWrite_ReportsClientFromHeader()
    {
        await using WebAppProcess app = await WebAppProcess.StartAsync();
        byte[] input = [.. Encoding.ASCII.GetBytes("PROXY TCP4 203.0.113.7 192.0.2.1 51234 443\r\n"), .. RawHttpClient.GetRoot];

        string response = await RawHttpClient.ExchangeAsync(app.Port, "127.0.0.2", Timeout, input);

        JsonElement json = RawHttpClient.JsonBody(response);
        Assert.Equal("203.0.113.7", json.GetProperty("remoteIp").GetString());
        Assert.Equal(51234, json.GetProperty("remotePort").GetInt32());
        Assert.Equal("192.0.2.1", json.GetProperty("localIp").GetString());
        Assert.Equal(443, json.GetProperty("localPort").GetInt32());
        JsonElement proxy = json.GetProperty("proxyProtocol");
        Assert.Equal(1, proxy.GetProperty("version").GetInt32());
        Assert.Equal("Proxy", proxy.GetProperty("command").GetString());
        Assert.Equal("127.0.0.2", proxy.GetProperty("proxyIp").GetString());
    }

    [Fact]
    public async Task Get_WithoutHeader_ClosesWithoutWriting()
    {
        await using WebAppProcess app = await WebAppProcess.StartAsync();

        string response = await RawHttpClient.ExchangeAsync(app.Port, "127.0.0.3", Timeout, RawHttpClient.GetRoot);

        Assert.Equal(string.Empty, response);
        Assert.True(await app.WaitForOutputAsync("rejected", Timeout), app.Output);
    }

    [Fact]
    public async Task Get_FromUntrustedPeer_ClosesWithoutWriting()
    {
        await using WebAppProcess app = await WebAppProcess.StartAsync(["--ProxyProtocol:TrustedNetworks:0=127.0.0.1/32"]);
        byte[] input = [.. Encoding.ASCII.GetBytes("PROXY TCP4 203.0.113.7 192.0.2.1 51234 443\r\n"), .. RawHttpClient.GetRoot];

        string untrusted;
        try
        {
            untrusted = await RawHttpClient.ExchangeAsync(app.Port, "127.0.0.2", Timeout, input);
        }
        catch (System.Net.Sockets.SocketException)
        {
            // The server may reset the connection before the connect or send completes: closed, nothing written.
            untrusted = string.Empty;
        }

        string trusted = await RawHttpClient.ExchangeAsync(app.Port, "127.0.0.1", Timeout, input);

        Assert.Equal(string.Empty, untrusted);
        Assert.Equal("203.0.113.7", RawHttpClient.JsonBody(trusted).GetProperty("remoteIp").GetString());
    }

    [Fact]
    public async Task Start_WithInvalidOptions_FailsListingEveryError()
    {
        (int exitCode, string output) = await WebAppProcess.RunExpectingFailureAsync(
        [
            "--ProxyProtocol:TrustedNetworks:0=10.0.0.1/8",
            "--ProxyProtocol:HeaderTimeout=00:00:01",
            "--ProxyProtocol:Mode=Sometimes",
            "--ProxyProtocol:MaxHeaderSize=12",
            "--ProxyProtocol:TrustedNetwork=typo",
        ]);

        Assert.NotEqual(0, exitCode);
        Assert.Contains("ProxyProtocol:TrustedNetworks:0", output, StringComparison.Ordinal);
        Assert.Contains("ProxyProtocol:HeaderTimeout", output, StringComparison.Ordinal);
        Assert.Contains("ProxyProtocol:Mode: 'Sometimes'", output, StringComparison.Ordinal);
        Assert.Contains("ProxyProtocol:MaxHeaderSize", output, StringComparison.Ordinal);
        Assert.Contains("ProxyProtocol:TrustedNetwork: unknown key", output, StringComparison.Ordinal);
    }
}
