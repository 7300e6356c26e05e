using System.Globalization;
using System.Net;
using System.Text;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Time.Testing;

namespace ProxyKestrel.AspNetCore.Tests.Infrastructure;

/// <summary>An in-process Kestrel application on loopback whose <c>GET /</c> reports the connection as <c>key=value</c> lines.</summary>
public sealed class TestHost : IAsyncDisposable
{
    private TestHost(WebApplication app, FakeTimeProvider? time)
    {
        App = app;
        Time = time;
        Ports = [.. app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses
            .Select(a => new Uri(a.Replace("[::]", "[::1]", StringComparison.Ordinal).Replace("0.0.0.0", "127.0.0.1", StringComparison.Ordinal)).Port)];
    }

    public WebApplication App { get; }

    public FakeTimeProvider? Time { get; }

    /// <summary>The bound ports, in the order of the endpoints.</summary>
    public IReadOnlyList<int> Ports { get; }

    public int Port => Ports[0];

    /// <summary>
    /// Starts an application. Without <paramref name="kestrel"/> it listens on 127.0.0.1:0; with
    /// <paramref name="addProxyProtocol"/> it calls <c>AddProxyProtocol(configure)</c>; with
    /// <paramref name="useProxyProtocol"/>, <c>app.UseProxyProtocol()</c>; with <paramref name="logger"/>, that provider
    /// receives every log entry (all levels); <paramref name="urls"/> are bound as <c>--urls</c> would be (also
    /// with <paramref name="kestrel"/>); <paramref name="settings"/> are added to the configuration (e.g.
    /// <c>ProxyProtocol:Mode</c>).
    /// </summary>
    public static async Task<TestHost> StartAsync(
        Action<ProxyProtocolOptions>? configure = null,
        Action<KestrelServerOptions>? kestrel = null,
        bool addProxyProtocol = true,
        bool useProxyProtocol = true,
        FakeTimeProvider? time = null,
        CapturingLoggerProvider? logger = null,
        string? urls = null,
        IReadOnlyDictionary<string, string?>? settings = null)
    {
        WebApplicationBuilder builder = WebApplication.CreateBuilder();
        if (settings is not null)
        {
            builder.Configuration.AddInMemoryCollection(settings);
        }

        builder.Logging.ClearProviders();
        if (logger is not null)
        {
            builder.Logging.AddProvider(logger);

            // A rule for this provider wins over the category rules of appsettings.json.
            builder.Logging.AddFilter<CapturingLoggerProvider>(null, LogLevel.Trace);
        }

        if (urls is not null || kestrel is null)
        {
            builder.WebHost.UseUrls(urls ?? "http://127.0.0.1:0");
        }

        if (kestrel is not null)
        {
            builder.WebHost.ConfigureKestrel(kestrel);
        }

        if (time is not null)
        {
            builder.Services.AddSingleton<TimeProvider>(time);
        }

        if (addProxyProtocol)
        {
            builder.Services.AddProxyProtocol(configure);
        }

        WebApplication app = builder.Build();
        try
        {
            if (useProxyProtocol)
            {
                app.UseProxyProtocol();
            }

            app.MapGet("/", Report);
            await app.StartAsync();
        }
        catch
        {
            await app.DisposeAsync();
            throw;
        }

        return new TestHost(app, time);
    }

    public async ValueTask DisposeAsync()
    {
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(5));
        await App.StopAsync(cts.Token);
        await App.DisposeAsync();
    }

    private static async Task Report(HttpContext context)
    {
        var lines = new StringBuilder();
        void Line(string key, object? value) =>
            lines.Append(key).Append('=').Append(Convert.ToString(value, CultureInfo.InvariantCulture)).Append('\n');

        Line("remote", new IPEndPoint(context.Connection.RemoteIpAddress!, context.Connection.RemotePort));
        Line("local", new IPEndPoint(context.Connection.LocalIpAddress!, context.Connection.LocalPort));
        Line("protocol", context.Request.Protocol);
        Line("scheme", context.Request.Scheme);
        IProxyProtocolFeature? feature = context.Features.Get<IProxyProtocolFeature>();
        Line("feature", feature is not null);
        if (feature is not null)
        {
            Line("version", (int)feature.Version);
            Line("command", feature.Command);
            Line("source", feature.Source);
            Line("destination", feature.Destination);
            Line("proxy", feature.ProxyEndPoint);
            Line("alpn", feature.Alpn is { } alpn ? Encoding.ASCII.GetString(alpn.Span) : null);
            Line("authority", feature.Authority);
            Line("uniqueId", feature.UniqueId is { } id ? Convert.ToHexString(id.Span) : null);
            Line("sslVersion", feature.Ssl?.Version);
            Line("sslCn", feature.Ssl?.CommonName);
            Line("sslClient", feature.Ssl?.Client);
            Line("aws", feature.AwsVpcEndpointId);
            Line("azure", feature.AzurePrivateLinkId);
            Line("gcp", feature.GcpPscConnectionId);
            Line("tlvCount", feature.Tlvs.Count);
        }

        byte[] body = Encoding.UTF8.GetBytes(lines.ToString());
        context.Response.ContentType = "text/plain";
        context.Response.ContentLength = body.Length;
        await context.Response.Body.WriteAsync(body);
    }

    /// <summary>Parses the <c>key=value</c> bodies of every HTTP/1.1 response in <paramref name="raw"/>.</summary>
    public static List<Dictionary<string, string>> ParseResponses(string raw)
    {
        var result = new List<Dictionary<string, string>>();
        foreach (string response in raw.Split("HTTP/1.1 ", StringSplitOptions.RemoveEmptyEntries))
        {
            Assert.StartsWith("200", response, StringComparison.Ordinal);
            result.Add(ParseBody(response[(response.IndexOf("\r\n\r\n", StringComparison.Ordinal) + 4)..]));
        }

        return result;
    }

    public static Dictionary<string, string> ParseSingle(string raw)
    {
        List<Dictionary<string, string>> all = ParseResponses(raw);
        Assert.Single(all);
        return all[0];
    }

    public static Dictionary<string, string> ParseBody(string body)
    {
        var values = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (string line in body.Split('\n', StringSplitOptions.RemoveEmptyEntries))
        {
            int eq = line.IndexOf('=', StringComparison.Ordinal);
            values[line[..eq]] = line[(eq + 1)..];
        }

        return values;
    }
}
