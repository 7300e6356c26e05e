using System.Net;
using System.Net.Sockets;
using System.Text;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Primitives;
using ProxyKestrel.AspNetCore.Tests.Infrastructure;
using static ProxyKestrel.AspNetCore.Tests.Infrastructure.ConnectionProbe;

namespace ProxyKestrel.AspNetCore.Tests.Security;

/// <summary>
/// docs/security.md, "Trusting X-Forwarded-For vs PROXY" and "Config reload turning trust wider": the middleware
/// believes the PROXY header of a trusted peer and nothing in HTTP; its options are read once at start, so a changed
/// configuration file cannot widen trust on a running server.
/// </summary>
public sealed class TrustSourceTests
{
    private static readonly IPEndPoint Client = new(IPAddress.Parse("203.0.113.7"), 51234);
    private static readonly IPEndPoint Server = new(IPAddress.Parse("198.51.100.1"), 443);

    [Fact]
    public async Task OnConnection_XForwardedForAlongsideHeader_HeaderAddressWins()
    {
        await using TestHost host = await TestHost.StartAsync();
        byte[] request = Encoding.ASCII.GetBytes("GET / HTTP/1.1\r\nHost: test\r\nX-Forwarded-For: 192.0.2.99\r\nForwarded: for=192.0.2.98\r\nConnection: close\r\n\r\n");

        string raw = await RawHttpClient.ExchangeAsync(host.Port, "127.0.0.1", Safety, Concat(V2(Client, Server), request));

        Assert.Equal(Client.ToString(), TestHost.ParseSingle(raw)["remote"]);
    }

    [Fact]
    public async Task OnConnection_UntrustedPeerWithXForwardedFor_StillClosedWithNothingWritten()
    {
        await using TestHost host = await TestHost.StartAsync(o => o.TrustedNetworks = ["127.0.0.1/32"]);
        (Socket socket, bool connected) = await ConnectFromAsync(host.Port, "127.0.0.2");
        using (socket)
        {
            if (connected)
            {
                await SendIgnoringResetAsync(socket, Encoding.ASCII.GetBytes("GET / HTTP/1.1\r\nHost: test\r\nX-Forwarded-For: 127.0.0.1\r\n\r\n"));
                await AssertClosedWithNothingWrittenAsync(socket);
            }
        }
    }

    [Fact]
    public async Task OnConnection_ConfigFileWidensTrustedNetworksWhileRunning_NewPeerStillRejected()
    {
        string directory = Path.Combine(Path.GetTempPath(), "proxykestrel-security-" + Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(directory);
        string path = Path.Combine(directory, "appsettings.json");
        try
        {
            await File.WriteAllTextAsync(path, """{ "ProxyProtocol": { "TrustedNetworks": [ "127.0.0.1/32" ] } }""");
            WebApplicationBuilder builder = WebApplication.CreateBuilder();
            builder.Configuration.Sources.Clear();
            builder.Configuration.AddJsonFile(path, optional: false, reloadOnChange: true);
            builder.Logging.ClearProviders();
            builder.WebHost.UseUrls("http://127.0.0.1:0");
            builder.Services.AddProxyProtocol();
            await using WebApplication app = builder.Build();
            app.UseProxyProtocol();
            app.MapGet("/", (HttpContext c) => c.Connection.RemoteIpAddress!.ToString());
            await app.StartAsync();
            int port = new Uri(app.Urls.First()).Port;

            byte[] input = Concat(V2(Client, Server), RawHttpClient.GetRoot);
            Assert.Equal(string.Empty, await ExchangeOrEmptyAsync(port, "127.0.0.2", input));

            var reloaded = new TaskCompletionSource();
            using IDisposable watch = ChangeToken.OnChange(app.Configuration.GetReloadToken, () => reloaded.TrySetResult());
            await File.WriteAllTextAsync(path, """{ "ProxyProtocol": { "TrustedNetworks": [ "127.0.0.0/8" ] } }""");
            await reloaded.Task.WaitAsync(Safety);
            Assert.Equal("127.0.0.0/8", app.Configuration["ProxyProtocol:TrustedNetworks:0"]);

            Assert.Equal(string.Empty, await ExchangeOrEmptyAsync(port, "127.0.0.2", input));
            Assert.Contains(Client.Address.ToString(), await RawHttpClient.ExchangeAsync(port, "127.0.0.1", Safety, input), StringComparison.Ordinal);
            await app.StopAsync();
        }
        finally
        {
            try
            {
                Directory.Delete(directory, recursive: true);
            }
            catch (IOException)
            {
            }
        }
    }

    private static async Task<string> ExchangeOrEmptyAsync(int port, string source, byte[] input)
    {
        try
        {
            return await RawHttpClient.ExchangeAsync(port, source, Safety, input);
        }
        catch (SocketException)
        {
            return string.Empty; // reset while connecting: closed, nothing written
        }
    }
}
