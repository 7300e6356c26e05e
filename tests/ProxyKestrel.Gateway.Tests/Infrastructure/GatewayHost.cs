using System.Net;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using ProxyKestrel.Gateway.Configuration;
using ProxyKestrel.Gateway.Udp;
using ProxyKestrel.Gateway.Tests.Infrastructure.Transports;

namespace ProxyKestrel.Gateway.Tests.Infrastructure;

/// <summary>
/// The gateway in-process, as samples/Gateway wires it: YARP clusters from <c>ReverseProxy</c>, TCP routes from
/// <c>TcpProxy</c>, Kestrel on 127.0.0.1:0. Configuration comes from a JSON file so reload can be tested.
/// <para>
/// The TCP transport follows the running test case's transport (<see cref="AmbientTransport"/>: every test runs once
/// per transport, see Infrastructure/Transports/): it overrides <c>TcpProxy:Transport</c> of the JSON file, unless the
/// JSON file sets <c>TcpProxy:Transport</c> itself when the gateway starts (a test that sets or reloads the transport
/// owns it) or the test pins one with <c>transport</c>.
/// </para>
/// </summary>
public sealed class GatewayHost : IAsyncDisposable
{
    /// <summary>
    /// The environment variable that selects a gateway's TCP transport (ASP.NET's environment configuration): the tests
    /// pass it to each gateway child process (<see cref="AmbientTransport.ChildEnvironment"/>); set for the test process,
    /// it selects the one transport the tests run on (<see cref="TransportMatrix"/>).
    /// </summary>
    public const string TransportVariable = "TcpProxy__Transport";

    private const string TransportKey = TcpProxyConfig.SectionName + ":Transport";

    private const string UdpTransportKey = UdpProxyConfig.SectionName + ":Transport";

    private readonly WebApplication _app;
    private readonly string _directory;

    private GatewayHost(WebApplication app, string directory, string configPath)
    {
        _app = app;
        _directory = directory;
        ConfigPath = configPath;
    }

    /// <summary>The JSON file the configuration is read from (rewrite it to trigger a reload).</summary>
    public string ConfigPath { get; }

    /// <summary>The application's services.</summary>
    public IServiceProvider Services => _app.Services;

    /// <summary>
    /// Starts a gateway with <paramref name="json"/> as its configuration file; <paramref name="configureProxy"/> can
    /// extend YARP's builder (e.g. <c>AddProxyProtocolForwarding()</c>), <paramref name="configureApp"/> map endpoints
    /// (before YARP's).
    /// </summary>
    /// <param name="transport">
    /// Pins <c>TcpProxy:Transport</c> whatever the environment and the JSON file say (for transport-specific tests); a
    /// reload of the JSON file then cannot change it. Null: see the class remarks.
    /// </param>
    public static async Task<GatewayHost> StartAsync(
        string json,
        Action<IServiceCollection>? configureServices = null,
        ILoggerProvider? logger = null,
        Action<IReverseProxyBuilder>? configureProxy = null,
        TcpProxyTransport? transport = null,
        Action<WebApplication>? configureApp = null)
    {
        string directory = TempDirectory.Create("gateway");
        string path = Path.Combine(directory, "gateway.json");
        await File.WriteAllTextAsync(path, json);
        WebApplicationBuilder builder = WebApplication.CreateBuilder();
        builder.Configuration.Sources.Clear();
        builder.Configuration.AddJsonFile(path, optional: false, reloadOnChange: true);

        // Added after the JSON file, so it wins over it; the JSON file's other keys still reload on change.
        if (TransportOverride(builder.Configuration, transport) is { } overridden)
        {
            builder.Configuration.AddInMemoryCollection([new(TransportKey, overridden)]);
        }

        // The UDP routes take the same transport (their own Sockets and Epoll implementations).
        if (TransportOverride(builder.Configuration, transport, UdpTransportKey) is { } udp)
        {
            builder.Configuration.AddInMemoryCollection([new(UdpTransportKey, udp)]);
        }

        builder.WebHost.UseUrls("http://127.0.0.1:0");
        builder.Logging.ClearProviders();
        if (logger is not null)
        {
            builder.Logging.AddProvider(logger);
            builder.Logging.SetMinimumLevel(LogLevel.Trace);
        }

        IReverseProxyBuilder proxy = builder.Services.AddReverseProxy().LoadFromConfig(builder.Configuration.GetSection("ReverseProxy"));
        configureProxy?.Invoke(proxy);
        builder.Services.AddTcpProxy(builder.Configuration.GetSection("TcpProxy"));
        builder.Services.AddUdpProxy(builder.Configuration.GetSection("UdpProxy"));
        configureServices?.Invoke(builder.Services);
        WebApplication app = builder.Build();
        configureApp?.Invoke(app);
        app.MapReverseProxy();
        try
        {
            await app.StartAsync();
        }
        catch
        {
            await app.DisposeAsync();
            TempDirectory.TryDelete(directory);
            throw;
        }

        return new GatewayHost(app, directory, path);
    }

    /// <summary>
    /// The value that overrides <c>TcpProxy:Transport</c>: <paramref name="pinned"/> if given, else the ambient transport
    /// unless <paramref name="json"/> (the configuration so far) sets the transport itself; null: no override.
    /// </summary>
    private static string? TransportOverride(IConfiguration json, TcpProxyTransport? pinned, string key = TransportKey)
    {
        if (pinned is { } value)
        {
            return value.ToString();
        }

        if (AmbientTransport.Current is not { } ambient || json[key] is not null)
        {
            return null;
        }

        return ambient.ToString();
    }

    /// <summary>The port of the gateway's Kestrel endpoint (YARP's HTTP routes).</summary>
    public int HttpPort =>
        new Uri(Services.GetRequiredService<IServer>().Features.GetRequiredFeature<IServerAddressesFeature>().Addresses.First()).Port;

    /// <summary>The bound endpoint of a route (the first one when it listens on several).</summary>
    public IPEndPoint EndPointOf(string routeId) =>
        (IPEndPoint)Services.GetRequiredService<ITcpProxyEndpoints>().BoundEndPoints.First(e => e.RouteId == routeId).EndPoint;

    /// <summary>The bound endpoint of a UDP route (the first one when it listens on several).</summary>
    public IPEndPoint UdpEndPointOf(string routeId) =>
        (IPEndPoint)Services.GetRequiredService<IUdpProxyEndpoints>().BoundEndPoints.First(e => e.RouteId == routeId).EndPoint;

    /// <summary>All bound endpoints of a route.</summary>
    public IReadOnlyList<IPEndPoint> EndPointsOf(string routeId) =>
        [.. Services.GetRequiredService<ITcpProxyEndpoints>().BoundEndPoints.Where(e => e.RouteId == routeId).Select(e => (IPEndPoint)e.EndPoint)];

    /// <summary>Stops the gateway (graceful: listeners stop, open connections drain).</summary>
    public Task StopAsync() => _app.StopAsync();

    public async ValueTask DisposeAsync()
    {
        try
        {
            await _app.StopAsync();
        }
        catch (OperationCanceledException)
        {
            // Already stopped.
        }

        await _app.DisposeAsync();
        TempDirectory.TryDelete(_directory);
    }
}
