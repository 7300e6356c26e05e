using ProxyKestrel.Gateway.Configuration;
using Yarp.ReverseProxy.Configuration;

// A TCP gateway configured in code: YARP's cluster and the TCP routes are built here, not read from JSON, and a small
// HTTP API changes the routes while the gateway runs. Run it with --Backend tcp://HOST:PORT (a server that expects a
// PROXY v2 header) and --Listen ADDRESS:PORT (the first route's endpoint).
WebApplicationBuilder builder = WebApplication.CreateBuilder(args);
string backend = builder.Configuration["Backend"] ?? "tcp://127.0.0.1:7000";
string listen = builder.Configuration["Listen"] ?? "127.0.0.1:7001";

// The cluster, in memory like the routes: YARP's own LoadFromMemory. Its metadata asks for a PROXY v2 header.
ClusterConfig cluster = new()
{
    ClusterId = "backend",
    Metadata = new Dictionary<string, string> { [ClusterProxyProtocol.VersionKey] = "v2" },
    Destinations = new Dictionary<string, DestinationConfig> { ["d1"] = new() { Address = backend } },
};
builder.Services.AddReverseProxy().LoadFromMemory([], [cluster]);

// The TCP routes in code. LoadFromConfig as well: the TcpProxy section still gives the gateway-wide settings
// (Transport, DrainTimeout), and any route it has is served next to these (a route id in both is an error).
builder.Services.AddTcpProxy()
    .LoadFromMemory([new TcpRouteConfig { RouteId = "first", Listen = [listen], ClusterId = "backend" }])
    .LoadFromConfig(builder.Configuration.GetSection(TcpProxyConfig.SectionName));
builder.Services.AddHealthChecks().AddTcpProxyReadiness();
builder.Services.AddSingleton<RouteTable>();

WebApplication app = builder.Build();
app.MapHealthChecks("/readyz");

// The route API. It changes what the gateway listens on: bind it to a loopback or admin address only (--urls).
app.MapGet("/routes", (RouteTable table) => table.List());
app.MapPut("/routes/{id}", (string id, RouteBody body, RouteTable table) => table.Put(id, body));
app.MapDelete("/routes/{id}", (string id, RouteTable table) => table.Delete(id));
app.MapReverseProxy();
app.Run();

/// <summary>A route as the API takes it (the route id is in the URL).</summary>
internal sealed record RouteBody(IReadOnlyList<string> Listen, string ClusterId, IReadOnlyList<string>? AllowedClients = null, int? MaxConnections = null);
