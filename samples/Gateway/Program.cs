using System.Net;
using System.Text;
using Microsoft.AspNetCore.Diagnostics.HealthChecks;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Microsoft.Extensions.Diagnostics.HealthChecks;
using OpenTelemetry;
using OpenTelemetry.Logs;
using OpenTelemetry.Metrics;
using OpenTelemetry.Resources;
using OpenTelemetry.Trace;

WebApplicationBuilder builder = WebApplication.CreateBuilder(args);

// --config FILE: an extra JSON file in the same format as appsettings.json, reloaded when it changes.
if (builder.Configuration["config"] is { Length: > 0 } extra)
{
    builder.Configuration.AddJsonFile(Path.GetFullPath(extra), optional: false, reloadOnChange: true);
}

builder.Services.AddReverseProxy().LoadFromConfig(builder.Configuration.GetSection("ReverseProxy")).AddProxyProtocolForwarding();
builder.Services.AddTcpProxy().LoadFromConfig(builder.Configuration.GetSection("TcpProxy"));
builder.Services.AddUdpProxy(builder.Configuration.GetSection("UdpProxy"));

// /readyz: ASP.NET Core health checks, the gateway's readiness among them; add the application's own checks here.
builder.Services.AddHealthChecks().AddTcpProxyReadiness();

// SIGTERM: readiness turns false, the TCP listeners stop, open connections drain up to TcpProxy:DrainTimeout; the host
// must wait that long (its default shutdown timeout is 30 s).
// The UDP routes drain after the TCP routes (UdpProxy:DrainTimeout, default 5 s).
TimeSpan drainTimeout = builder.Configuration.GetValue("TcpProxy:DrainTimeout", TimeSpan.FromSeconds(30))
    + builder.Configuration.GetValue("UdpProxy:DrainTimeout", TimeSpan.FromSeconds(5));
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

    // The health-check middleware (what MapHealthChecks maps as an endpoint), here in the admin branch, so /readyz
    // answers on the admin port only: 200 "ready", or 503 "not ready" with one "- reason" line per failed check.
    admin.UseHealthChecks("/readyz", new HealthCheckOptions { ResponseWriter = ReadinessResponse.WriteAsync });
    admin.Run(async context =>
    {
        if (context.Request.Path.Value == "/healthz")
        {
            await context.Response.WriteAsync("alive\n");
        }
        else
        {
            context.Response.StatusCode = StatusCodes.Status404NotFound;
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

/// <summary>The /readyz body: <c>ready</c>, or <c>not ready</c> and a <c>- reason</c> line per check that is not healthy.</summary>
internal static class ReadinessResponse
{
    public static Task WriteAsync(HttpContext context, HealthReport report)
    {
        context.Response.ContentType = "text/plain; charset=utf-8";
        var text = new StringBuilder(report.Status == HealthStatus.Unhealthy ? "not ready\n" : "ready\n");
        foreach ((string name, HealthReportEntry entry) in report.Entries)
        {
            if (entry.Status == HealthStatus.Healthy)
            {
                continue;
            }

            if (entry.Data.TryGetValue(TcpProxyHealthChecksBuilderExtensions.ReasonsKey, out object? value) && value is IEnumerable<string> reasons)
            {
                foreach (string reason in reasons)
                {
                    text.Append("- ").Append(reason).Append('\n');
                }
            }
            else
            {
                text.Append("- ").Append(name).Append(": ").Append(entry.Description ?? entry.Exception?.Message ?? entry.Status.ToString()).Append('\n');
            }
        }

        return context.Response.WriteAsync(text.ToString());
    }
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
