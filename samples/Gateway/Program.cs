using System.Net;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using OpenTelemetry;
using OpenTelemetry.Logs;
using OpenTelemetry.Metrics;
using OpenTelemetry.Resources;
using OpenTelemetry.Trace;
using ProxyKestrel.Gateway.Admin;

WebApplicationBuilder builder = WebApplication.CreateBuilder(args);

// --config FILE: an extra JSON file in the same format as appsettings.json, reloaded when it changes.
if (builder.Configuration["config"] is { Length: > 0 } extra)
{
    builder.Configuration.AddJsonFile(Path.GetFullPath(extra), optional: false, reloadOnChange: true);
}

builder.Services.AddReverseProxy().LoadFromConfig(builder.Configuration.GetSection("ReverseProxy")).AddProxyProtocolForwarding();
builder.Services.AddTcpProxy(builder.Configuration.GetSection("TcpProxy"));
builder.Services.AddTcpProxyReadiness();

// SIGTERM: readiness turns false, the TCP listeners stop, open connections drain up to TcpProxy:DrainTimeout; the host
// must wait that long (its default shutdown timeout is 30 s).
TimeSpan drainTimeout = builder.Configuration.GetValue("TcpProxy:DrainTimeout", TimeSpan.FromSeconds(30));
builder.Services.Configure<HostOptions>(o => o.ShutdownTimeout = drainTimeout + TimeSpan.FromSeconds(10));

// Kestrel: the HTTP URLs (--urls, ASPNETCORE_URLS, "Urls") for YARP's HTTP routes, plus the admin URLs (Admin:Urls)
// whose connections only serve /healthz, /readyz and /metrics. Both are bound explicitly, so the connection
// middleware can mark the admin connections whatever their port (port 0 included).
string[] httpUrls = SampleUrls.Split(builder.Configuration["urls"])
    is { Length: > 0 } urls ? urls : [.. SampleUrls.Split(builder.Configuration["http_ports"]).Select(p => $"http://*:{p}")];
string[] adminUrls = SampleUrls.Split(builder.Configuration["Admin:Urls"] ?? "http://0.0.0.0:8081");
var adminListeners = new List<ListenOptions>();
builder.WebHost.ConfigureKestrel(kestrel =>
{
    foreach (string url in httpUrls.DefaultIfEmpty("http://localhost:5000"))
    {
        SampleUrls.Listen(kestrel, url, _ => { });
    }

    foreach (string url in adminUrls)
    {
        SampleUrls.Listen(kestrel, url, listen =>
        {
            adminListeners.Add(listen);
            listen.Use(next => connection =>
            {
                connection.Features.Set(AdminConnection.Instance);
                return next(connection);
            });
        });
    }
});

// OpenTelemetry: our meters, Kestrel's, ASP.NET Core's and HttpClient's; HTTP and YARP traces; logs. Prometheus scrape
// endpoint on the admin port; OTLP (all three signals) only when OTEL_EXPORTER_OTLP_ENDPOINT is set, configured by
// the standard OTEL_* variables.
builder.Logging.AddOpenTelemetry(o =>
{
    o.IncludeFormattedMessage = true;
    o.IncludeScopes = true;
});
OpenTelemetryBuilder otel = builder.Services.AddOpenTelemetry()
    .ConfigureResource(r => r.AddService("proxykestrel-gateway").AddEnvironmentVariableDetector())
    .WithMetrics(metrics => metrics
        .AddMeter(
            "ProxyKestrel.Gateway",
            "Microsoft.AspNetCore.Hosting",
            "Microsoft.AspNetCore.Server.Kestrel",
            "System.Net.Http")
        .AddAspNetCoreInstrumentation()
        .AddHttpClientInstrumentation()
        .AddRuntimeInstrumentation()
        .AddPrometheusExporter());
if (!string.IsNullOrWhiteSpace(builder.Configuration["OTEL_EXPORTER_OTLP_ENDPOINT"]))
{
    // Traces are only exported over OTLP: without an endpoint, recording them would cost every forwarded request
    // its three activities (incoming, YARP, HttpClient) and their tags for nothing.
    otel.WithTracing(tracing => tracing
            // YARP 2.3 has no Meter; its forwarding activities come from the ActivitySource "Yarp.ReverseProxy".
            .AddSource("Yarp.ReverseProxy")
            .AddAspNetCoreInstrumentation(o => o.Filter = context => context.Features.Get<AdminConnection>() is null)
            .AddHttpClientInstrumentation())
        .UseOtlpExporter();
}

WebApplication app = builder.Build();

// The admin connections: /healthz, /readyz, /metrics and nothing else (no PROXY header is expected there).
app.MapWhen(context => context.Features.Get<AdminConnection>() is not null, admin =>
{
    admin.UseOpenTelemetryPrometheusScrapingEndpoint("/metrics");
    admin.Run(async context =>
    {
        switch (context.Request.Path.Value)
        {
            case "/healthz":
                await context.Response.WriteAsync("alive\n");
                break;
            case "/readyz":
                TcpProxyReadinessReport report = context.RequestServices.GetRequiredService<ITcpProxyReadiness>().Check();
                if (!report.IsReady)
                {
                    context.Response.StatusCode = StatusCodes.Status503ServiceUnavailable;
                    await context.Response.WriteAsync("not ready\n" + string.Concat(report.Reasons.Select(r => $"- {r}\n")));
                }
                else
                {
                    await context.Response.WriteAsync("ready\n");
                }

                break;
            default:
                context.Response.StatusCode = StatusCodes.Status404NotFound;
                break;
        }
    });
});

app.MapReverseProxy();
app.Lifetime.ApplicationStarted.Register(() =>
{
    foreach (ListenOptions listen in adminListeners)
    {
        SampleLog.AdminListening(app.Logger, listen.EndPoint);
    }
});
app.Run();

/// <summary>Marks a connection accepted on an admin URL.</summary>
internal sealed class AdminConnection
{
    public static readonly AdminConnection Instance = new();
}

/// <summary>Kestrel endpoints from URLs such as <c>http://0.0.0.0:8081</c>, <c>http://localhost:5080</c>, <c>http://*:80</c>.</summary>
internal static class SampleUrls
{
    public static string[] Split(string? urls) =>
        (urls ?? string.Empty).Split(';', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);

    public static void Listen(KestrelServerOptions kestrel, string url, Action<ListenOptions> configure)
    {
        BindingAddress address = BindingAddress.Parse(url);
        if (!string.Equals(address.Scheme, "http", StringComparison.OrdinalIgnoreCase))
        {
            throw new InvalidOperationException($"Only http:// URLs are supported by this sample: {url}");
        }

        if (string.Equals(address.Host, "localhost", StringComparison.OrdinalIgnoreCase))
        {
            kestrel.ListenLocalhost(address.Port, configure);
        }
        else if (IPAddress.TryParse(address.Host.Trim('[', ']'), out IPAddress? ip))
        {
            kestrel.Listen(ip, address.Port, configure);
        }
        else
        {
            // "*", "+" or a host name: every interface (what Kestrel does with UseUrls).
            kestrel.ListenAnyIP(address.Port, configure);
        }
    }
}

/// <summary>Log messages of the sample.</summary>
internal static partial class SampleLog
{
    [LoggerMessage(EventId = 1, Level = LogLevel.Information, Message = "Admin endpoint (/healthz, /readyz, /metrics) listening on: http://{EndPoint}")]
    public static partial void AdminListening(ILogger logger, EndPoint endPoint);
}
