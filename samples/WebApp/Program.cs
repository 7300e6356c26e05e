using OpenTelemetry;
using OpenTelemetry.Logs;
using OpenTelemetry.Metrics;
using OpenTelemetry.Resources;
using OpenTelemetry.Trace;
using ProxyKestrel.AspNetCore;
using ProxyKestrel.Samples.WebApp;

WebApplicationBuilder builder = WebApplication.CreateBuilder(args);

// WebApp:UseProxyProtocol (default true) exists for the benchmarks only (eng/bench/http): false runs the same app
// without the middleware, as the baseline it is compared with. Without it the app sees the proxy's address.
bool useProxyProtocol = builder.Configuration.GetValue("WebApp:UseProxyProtocol", defaultValue: true);
if (useProxyProtocol)
{
    builder.Services.AddProxyProtocol();
}

// OpenTelemetry: the PROXY protocol middleware's meter, ASP.NET Core's and Kestrel's, HttpClient's, the runtime's;
// HTTP traces; logs. A Prometheus scrape endpoint (/metrics, below); OTLP (all three signals) only when
// OTEL_EXPORTER_OTLP_ENDPOINT is set, configured by the standard OTEL_* variables.
builder.Logging.AddOpenTelemetry(o =>
{
    o.IncludeFormattedMessage = true;
    o.IncludeScopes = true;
});
OpenTelemetryBuilder otel = builder.Services.AddOpenTelemetry()
    .ConfigureResource(r => r.AddService("proxykestrel-webapp").AddEnvironmentVariableDetector())
    .WithMetrics(metrics => metrics
        .AddMeter(
            "ProxyKestrel.AspNetCore.ProxyProtocol",
            "Microsoft.AspNetCore.Hosting",
            "Microsoft.AspNetCore.Server.Kestrel",
            "System.Net.Http")
        .AddAspNetCoreInstrumentation()
        .AddHttpClientInstrumentation()
        .AddRuntimeInstrumentation()
        .AddPrometheusExporter())
    .WithTracing(tracing => tracing
        .AddAspNetCoreInstrumentation()
        .AddHttpClientInstrumentation());
if (!string.IsNullOrWhiteSpace(builder.Configuration["OTEL_EXPORTER_OTLP_ENDPOINT"]))
{
    otel.UseOtlpExporter();
}

WebApplication app = builder.Build();
if (useProxyProtocol)
{
    app.UseProxyProtocol();
}

// The contract: who the application believes the client is, and what the PROXY header said.
app.MapGet("/", (HttpContext context) => Results.Json(ClientReport.From(context), ClientReportJsonContext.Default.ClientReport));

// Liveness and metrics on the same port: the PROXY protocol middleware guards every connection, so probes and the
// Prometheus scraper must send a PROXY header too (or come from a peer the ProxyProtocol options let through).
app.MapGet("/healthz", () => "alive\n");
app.MapPrometheusScrapingEndpoint("/metrics");

app.Run();

/// <summary>The sample's entry point, visible to WebApplicationFactory.</summary>
public partial class Program;
