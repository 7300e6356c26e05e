using ProxyKestrel.AspNetCore;
using ProxyKestrel.Samples.WebApp;

WebApplicationBuilder builder = WebApplication.CreateBuilder(args);
builder.Services.AddProxyProtocol();

WebApplication app = builder.Build();
app.UseProxyProtocol();

// The contract: who the application believes the client is, and what the PROXY header said.
app.MapGet("/", (HttpContext context) => Results.Json(ClientReport.From(context), ClientReportJsonContext.Default.ClientReport));

app.Run();

/// <summary>The sample's entry point, visible to WebApplicationFactory.</summary>
public partial class Program;
