using System.Net;
using System.Text;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.HttpOverrides;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using ProxyKestrel.AspNetCore.Tests.Infrastructure;
using static ProxyKestrel.AspNetCore.Tests.Infrastructure.ConnectionProbe;

namespace ProxyKestrel.AspNetCore.Tests.Security;

/// <summary>
/// docs/security.md §9: with ASP.NET Core's <c>UseForwardedHeaders()</c> after the PROXY middleware, the
/// forwarded-headers middleware compares <c>KnownIPNetworks</c> with the address the PROXY header gave (the client),
/// not with the socket peer (the proxy that sent the header).
/// </summary>
public sealed class ForwardedHeadersInterplayTests
{
    private static readonly IPEndPoint Server = new(IPAddress.Parse("198.51.100.1"), 443);
    private static readonly byte[] RequestWithXForwardedFor =
        Encoding.ASCII.GetBytes("GET / HTTP/1.1\r\nHost: test\r\nX-Forwarded-For: 192.0.2.99\r\nConnection: close\r\n\r\n");

    [Fact]
    public async Task UseForwardedHeaders_HeaderClientInKnownNetworks_XForwardedForHonoured()
    {
        // The PROXY header names an HTTP proxy of ours (10.1.2.3, in KnownIPNetworks) as the client: what it forwards counts.
        await using WebApplication app = await StartAsync(System.Net.IPNetwork.Parse("10.0.0.0/8"));

        string remote = await RemoteSeenAsync(app, new IPEndPoint(IPAddress.Parse("10.1.2.3"), 40000));

        Assert.Equal("192.0.2.99", remote);
    }

    [Fact]
    public async Task UseForwardedHeaders_HeaderClientUnknownAlthoughPeerIsKnown_XForwardedForIgnored()
    {
        // KnownIPNetworks holds the proxy that sent the PROXY header (127.0.0.1), but the forwarded-headers middleware
        // sees the header's client (203.0.113.7, unknown): the client wrote X-Forwarded-For itself, and it is ignored.
        await using WebApplication app = await StartAsync(System.Net.IPNetwork.Parse("127.0.0.1/32"));

        string remote = await RemoteSeenAsync(app, new IPEndPoint(IPAddress.Parse("203.0.113.7"), 51234));

        Assert.Equal("203.0.113.7", remote);
    }

    private static async Task<WebApplication> StartAsync(System.Net.IPNetwork known)
    {
        WebApplicationBuilder builder = WebApplication.CreateBuilder();
        builder.Logging.ClearProviders();
        builder.WebHost.UseUrls("http://127.0.0.1:0");
        builder.Services.AddProxyProtocol(o => o.TrustedNetworks = ["127.0.0.1/32"]);
        builder.Services.Configure<ForwardedHeadersOptions>(o =>
        {
            o.ForwardedHeaders = ForwardedHeaders.XForwardedFor;
            o.KnownProxies.Clear();
            o.KnownIPNetworks.Clear();
            o.KnownIPNetworks.Add(known);
        });
        WebApplication app = builder.Build();
        app.UseProxyProtocol();
        app.UseForwardedHeaders();
        app.MapGet("/", async (HttpContext c) =>
        {
            byte[] body = Encoding.ASCII.GetBytes(c.Connection.RemoteIpAddress!.ToString());
            c.Response.ContentLength = body.Length;
            await c.Response.Body.WriteAsync(body);
        });
        await app.StartAsync();
        return app;
    }

    private static async Task<string> RemoteSeenAsync(WebApplication app, IPEndPoint client)
    {
        int port = new Uri(app.Urls.First()).Port;
        string raw = await RawHttpClient.ExchangeAsync(port, "127.0.0.1", Safety, Concat(V2(client, Server), RequestWithXForwardedFor));
        Assert.StartsWith("HTTP/1.1 200", raw, StringComparison.Ordinal);
        return raw[(raw.IndexOf("\r\n\r\n", StringComparison.Ordinal) + 4)..];
    }
}
