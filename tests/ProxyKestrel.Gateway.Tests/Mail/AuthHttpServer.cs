using System.Collections.Concurrent;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace ProxyKestrel.Gateway.Tests.Mail;

/// <summary>
/// An in-process Kestrel server on 127.0.0.1:0 playing an nginx <c>auth_http</c> script at <c>/auth</c>: it records
/// each request (method, path, every header as received) and answers with <see cref="Answer"/>.
/// </summary>
internal sealed class AuthHttpServer : IAsyncDisposable
{
    private readonly WebApplication _app;

    private AuthHttpServer(WebApplication app, Func<HttpContext, Task> answer)
    {
        _app = app;
        Answer = answer;
    }

    /// <summary>Writes the answer to each request (status and headers); replaceable between requests.</summary>
    public Func<HttpContext, Task> Answer { get; set; }

    /// <summary>The requests received, in order.</summary>
    public ConcurrentQueue<(string Method, string Path, IReadOnlyDictionary<string, string> Headers)> Requests { get; } = new();

    /// <summary>The URL of the script: <c>http://127.0.0.1:PORT/auth</c>.</summary>
    public Uri Url { get; private set; } = null!;

    /// <summary>An answer of headers only, status 200.</summary>
    public static Func<HttpContext, Task> Headers(params (string Name, string Value)[] headers) => context =>
    {
        foreach ((string name, string value) in headers)
        {
            context.Response.Headers[name] = value;
        }

        return Task.CompletedTask;
    };

    public static async Task<AuthHttpServer> StartAsync(Func<HttpContext, Task> answer)
    {
        WebApplicationBuilder builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        builder.WebHost.UseUrls("http://127.0.0.1:0");
        WebApplication app = builder.Build();
        var server = new AuthHttpServer(app, answer);
        app.Run(async context =>
        {
            var headers = new Dictionary<string, string>(StringComparer.OrdinalIgnoreCase);
            foreach (KeyValuePair<string, Microsoft.Extensions.Primitives.StringValues> header in context.Request.Headers)
            {
                headers[header.Key] = header.Value.ToString();
            }

            server.Requests.Enqueue((context.Request.Method, context.Request.Path.Value ?? string.Empty, headers));
            await server.Answer(context);
        });
        await app.StartAsync();
        string address = app.Services.GetRequiredService<IServer>().Features.GetRequiredFeature<IServerAddressesFeature>().Addresses.First();
        server.Url = new Uri(new Uri(address), "/auth");
        return server;
    }

    public async ValueTask DisposeAsync()
    {
        await _app.StopAsync();
        await _app.DisposeAsync();
    }
}
