using System.Net;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace ProxyKestrel.Gateway.Tests.Infrastructure;

/// <summary>
/// An in-process Kestrel HTTP/1.1 destination on 127.0.0.1:0 that names itself: <c>GET /</c> answers its
/// <see cref="Name"/>; <c>GET /hold</c> answers it too, but only once <see cref="Release"/> is called, so a test can keep
/// requests in flight on it. As a destination of both a YARP HTTP route and a TCP route (bytes relayed as they are), it
/// shows which destination each request or connection reached.
/// </summary>
public sealed class HttpBackend : IAsyncDisposable
{
    private readonly WebApplication _app;
    private TaskCompletionSource _release = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private int _held;

    private HttpBackend(string name, WebApplication app)
    {
        Name = name;
        _app = app;
    }

    /// <summary>The name every answer carries.</summary>
    public string Name { get; }

    /// <summary>Where it listens.</summary>
    public IPEndPoint EndPoint { get; private set; } = null!;

    /// <summary>The destination address for the gateway's configuration: <c>http://127.0.0.1:PORT/</c>.</summary>
    public string Address => $"http://{EndPoint}/";

    /// <summary>How many <c>/hold</c> requests are waiting.</summary>
    public int Held => Volatile.Read(ref _held);

    public static async Task<HttpBackend> StartAsync(string name)
    {
        WebApplicationBuilder builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        builder.WebHost.UseUrls("http://127.0.0.1:0");
        WebApplication app = builder.Build();
        var backend = new HttpBackend(name, app);
        app.MapGet("/", (HttpContext context) => AnswerAsync(context, name));
        app.MapGet("/hold", async (HttpContext context) =>
        {
            Interlocked.Increment(ref backend._held);
            try
            {
                await Volatile.Read(ref backend._release).Task.WaitAsync(TimeSpan.FromSeconds(30), context.RequestAborted);
            }
            finally
            {
                Interlocked.Decrement(ref backend._held);
            }

            await AnswerAsync(context, name);
        });
        await app.StartAsync();
        string address = app.Services.GetRequiredService<IServer>().Features.GetRequiredFeature<IServerAddressesFeature>().Addresses.First();
        backend.EndPoint = new IPEndPoint(IPAddress.Loopback, new Uri(address).Port);
        return backend;
    }

    /// <summary>The name, with a Content-Length (not chunked), so a raw reader knows where it ends.</summary>
    private static Task AnswerAsync(HttpContext context, string name)
    {
        context.Response.ContentType = "text/plain";
        context.Response.ContentLength = System.Text.Encoding.UTF8.GetByteCount(name);
        return context.Response.WriteAsync(name);
    }

    /// <summary>Answers the waiting <c>/hold</c> requests (later ones wait again).</summary>
    public void Release() => Interlocked.Exchange(ref _release, new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously)).TrySetResult();

    public async ValueTask DisposeAsync()
    {
        Release();
        await _app.StopAsync();
        await _app.DisposeAsync();
    }
}
