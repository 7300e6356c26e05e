using System.Net;
using System.Net.Sockets;
using System.Security.Cryptography.X509Certificates;
using Microsoft.AspNetCore.Connections;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using ProxyKestrel.AspNetCore.Tests.Infrastructure;
using static ProxyKestrel.AspNetCore.Tests.Infrastructure.ConnectionProbe;

namespace ProxyKestrel.AspNetCore.Tests;

/// <summary>
/// App-wide mode (<c>app.UseProxyProtocol()</c>) is never silently off: an endpoint that would be served without
/// reading headers (endpoint defaults replaced by a later <c>ConfigureEndpointDefaults</c>, HTTP/3 enabled) stops
/// start-up with a message naming the endpoint and the fix, before anything is bound.
/// </summary>
public sealed class AppWideModeTests
{
    private static readonly IPEndPoint Client = new(IPAddress.Parse("203.0.113.7"), 51234);
    private static readonly IPEndPoint Server = new(IPAddress.Parse("198.51.100.1"), 443);

    [Fact]
    public async Task Start_ConfigureEndpointDefaultsReplacesDefaults_FailsNamingUrlEndpointAndFixBeforeBinding()
    {
        int port = FreePort.Next();

        InvalidOperationException ex = await StartFailsAsync(() => TestHost.StartAsync(
            urls: $"http://127.0.0.1:{port}",
            kestrel: k => k.ConfigureEndpointDefaults(lo => lo.Protocols = HttpProtocols.Http1)));

        Assert.Contains($"The Kestrel endpoint http://127.0.0.1:{port} does not run the PROXY protocol middleware", ex.Message, StringComparison.Ordinal);
        Assert.Contains("ConfigureEndpointDefaults", ex.Message, StringComparison.Ordinal);
        Assert.Contains("Fix: call listenOptions.UseProxyProtocol() first in that ConfigureEndpointDefaults callback", ex.Message, StringComparison.Ordinal);
        await AssertNothingListensAsync(port);
    }

    [Fact]
    public async Task Start_ConfigureEndpointDefaultsReplacesDefaultsForConfigEndpoint_FailsNamingIt()
    {
        int port = FreePort.Next();

        InvalidOperationException ex = await StartFailsAsync(() => TestHost.StartAsync(
            kestrel: k => k.ConfigureEndpointDefaults(lo => lo.Protocols = HttpProtocols.Http1),
            settings: new Dictionary<string, string?> { ["Kestrel:Endpoints:web:Url"] = $"http://127.0.0.1:{port}" }));

        Assert.Contains($"The Kestrel endpoint http://127.0.0.1:{port} does not run the PROXY protocol middleware", ex.Message, StringComparison.Ordinal);
        await AssertNothingListensAsync(port);
    }

    [Fact]
    public async Task Start_ListenInCodeAfterConfigureEndpointDefaults_FailsNamingEveryUncoveredEndpoint()
    {
        int first = FreePort.Next();
        int second = FreePort.Next();

        InvalidOperationException ex = await StartFailsAsync(() => TestHost.StartAsync(kestrel: k =>
        {
            k.Listen(IPAddress.Loopback, 0); // before the replacement: has the middleware
            k.ConfigureEndpointDefaults(_ => { });
            k.Listen(IPAddress.Loopback, first);
            k.Listen(IPAddress.Loopback, second);
        }));

        Assert.Contains($"The Kestrel endpoints http://127.0.0.1:{first}, http://127.0.0.1:{second} do not run the PROXY protocol middleware", ex.Message, StringComparison.Ordinal);
        Assert.DoesNotContain("127.0.0.1:0", ex.Message, StringComparison.Ordinal);
        Assert.Contains("options.Listen(...) after that call can also call it in its own callback", ex.Message, StringComparison.Ordinal);
        await AssertNothingListensAsync(first);
        await AssertNothingListensAsync(second);
    }

    [Fact]
    public async Task Start_ConfigureEndpointDefaultsCallingUseProxyProtocol_UrlEndpointReadsHeaders()
    {
        await using TestHost host = await TestHost.StartAsync(
            urls: "http://127.0.0.1:0",
            kestrel: k => k.ConfigureEndpointDefaults(lo =>
            {
                lo.UseProxyProtocol();
                lo.Protocols = HttpProtocols.Http1;
            }));

        string raw = await RawHttpClient.ExchangeAsync(host.Port, "127.0.0.1", Safety, Concat(V1(Client, Server), RawHttpClient.GetRoot));

        Assert.Equal(Client.ToString(), TestHost.ParseSingle(raw)["remote"]);
        using Socket socket = await RawHttpClient.ConnectAsync(host.Port);
        await SendIgnoringResetAsync(socket, RawHttpClient.GetRoot);
        await AssertClosedWithNothingWrittenAsync(socket);
    }

    [Fact]
    public async Task Start_ConfigureKestrelWithoutEndpointDefaults_UrlAndConfigEndpointsReadHeaders()
    {
        int configPort = FreePort.Next();
        await using TestHost host = await TestHost.StartAsync(
            urls: "http://127.0.0.1:0",
            kestrel: k => k.Limits.MaxRequestHeaderCount = 50,
            settings: new Dictionary<string, string?> { ["Kestrel:Endpoints:web:Url"] = $"http://127.0.0.1:{configPort}" });

        Assert.Equal([configPort], host.Ports);
        string raw = await RawHttpClient.ExchangeAsync(configPort, "127.0.0.1", Safety, Concat(V2(Client, Server), RawHttpClient.GetRoot));
        Assert.Equal(Client.ToString(), TestHost.ParseSingle(raw)["remote"]);
    }

    [Fact]
    public async Task Start_Http3OnTlsEndpoint_FailsNamingEndpointAndOptionBeforeBinding()
    {
        using X509Certificate2 cert = TestCertificates.CreateSelfSigned();
        int port = FreePort.Next();

        InvalidOperationException ex = await StartFailsAsync(() => TestHost.StartAsync(kestrel: k => k.Listen(IPAddress.Loopback, port, lo =>
        {
            lo.Protocols = HttpProtocols.Http1AndHttp2AndHttp3;
            lo.UseHttps(cert);
        })));

        Assert.Contains($"The Kestrel endpoint https://127.0.0.1:{port} reads PROXY headers but has HTTP/3 in its Protocols (Http1AndHttp2AndHttp3)", ex.Message, StringComparison.Ordinal);
        Assert.Contains("UntrustedPeers=Reject would not apply", ex.Message, StringComparison.Ordinal);
        Assert.Contains("Fix: remove Http3 from this endpoint's Protocols", ex.Message, StringComparison.Ordinal);
        Assert.Contains("ProxyProtocol:AllowUncheckedHttp3=true", ex.Message, StringComparison.Ordinal);
        await AssertNothingListensAsync(port);
    }

    [Fact]
    public async Task Start_Http3FromEndpointDefaultsOnPerEndpointMode_Fails()
    {
        int port = FreePort.Next();

        InvalidOperationException ex = await StartFailsAsync(() => TestHost.StartAsync(
            addProxyProtocol: false,
            useProxyProtocol: false,
            kestrel: k => k.Listen(IPAddress.Loopback, port, lo =>
            {
                lo.Protocols = HttpProtocols.Http1 | HttpProtocols.Http3;
                lo.UseProxyProtocol();
            })));

        Assert.Contains($"The Kestrel endpoint http://127.0.0.1:{port} reads PROXY headers but has HTTP/3 in its Protocols (Http1, Http3)", ex.Message, StringComparison.Ordinal);
        await AssertNothingListensAsync(port);
    }

    [Fact]
    public async Task Start_Http3WithAllowUncheckedHttp3_StartsWarnsOnceAndTcpStillReadsHeaders()
    {
        var logs = new CapturingLoggerProvider();
        await using TestHost host = await TestHost.StartAsync(
            logger: logs,
            settings: new Dictionary<string, string?> { ["ProxyProtocol:AllowUncheckedHttp3"] = "true" },
            kestrel: k => k.Listen(IPAddress.Loopback, 0, lo => lo.Protocols = HttpProtocols.Http1 | HttpProtocols.Http3));

        string raw = await RawHttpClient.ExchangeAsync(host.Port, "127.0.0.1", Safety, Concat(V1(Client, Server), RawHttpClient.GetRoot));
        Assert.Equal(Client.ToString(), TestHost.ParseSingle(raw)["remote"]);
        CapturedLog warning = Assert.Single(logs.Entries, e => e.Category == "ProxyKestrel.AspNetCore.ProxyProtocol" && e.EventId.Id == 8);
        Assert.Equal("Http3Unchecked", warning.EventId.Name);
        Assert.Equal(LogLevel.Warning, warning.Level);
        Assert.Contains("http://127.0.0.1:0", warning.Message, StringComparison.Ordinal);
        Assert.Contains("without the TrustedNetworks check", warning.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Start_AllowUncheckedHttp3NotABoolean_FailsListingItWithTheOtherErrors()
    {
        var ex = await Assert.ThrowsAsync<OptionsValidationException>(async () =>
        {
            await using TestHost host = await TestHost.StartAsync(settings: new Dictionary<string, string?>
            {
                ["ProxyProtocol:AllowUncheckedHttp3"] = "maybe",
                ["ProxyProtocol:Mode"] = "Sometimes",
                ["ProxyProtocol:AllowUncheckedHttp"] = "true",
            });
        });

        Assert.Contains("ProxyProtocol:AllowUncheckedHttp3: 'maybe' is not a valid value; allowed: true, false.", ex.Failures);
        Assert.Contains(ex.Failures, f => f.StartsWith("ProxyProtocol:Mode: 'Sometimes'", StringComparison.Ordinal));
        Assert.Contains(ex.Failures, f => f.StartsWith("ProxyProtocol:AllowUncheckedHttp: unknown key; allowed keys:", StringComparison.Ordinal)
            && f.Contains("AllowUncheckedHttp3", StringComparison.Ordinal));
    }

    [Fact]
    public void QuicPipeline_Http3OnlyEndpoint_BuildFailsNamingEndpoint()
    {
        // An HTTP/3-only endpoint has no TCP pipeline; Kestrel builds only its QUIC one, and only where QUIC runs. Build
        // that pipeline as Kestrel would, so the check is proven without libmsquic.
        ListenOptions endpoint = Http3OnlyEndpoint(allowUnchecked: false, out _);

        var ex = Assert.Throws<InvalidOperationException>(() => ((IMultiplexedConnectionBuilder)endpoint).Build());

        Assert.Contains("The Kestrel endpoint http://127.0.0.1:5443 reads PROXY headers but has HTTP/3 in its Protocols (Http3)", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void QuicPipeline_Http3OnlyEndpointWithAllowUncheckedHttp3_BuiltAndWarnsOnce()
    {
        ListenOptions endpoint = Http3OnlyEndpoint(allowUnchecked: true, out CapturingLoggerProvider logs);

        ((IMultiplexedConnectionBuilder)endpoint).Build();
        ((IMultiplexedConnectionBuilder)endpoint).Build();

        Assert.Single(logs.Entries, e => e.Category == "ProxyKestrel.AspNetCore.ProxyProtocol" && e.EventId.Id == 8 && e.Message.Contains("127.0.0.1:5443", StringComparison.Ordinal));
    }

    private static ListenOptions Http3OnlyEndpoint(bool allowUnchecked, out CapturingLoggerProvider logs)
    {
        var captured = new CapturingLoggerProvider();
        logs = captured;
        var services = new ServiceCollection();
        services.AddLogging(b => b.AddProvider(captured).SetMinimumLevel(LogLevel.Trace));
        services.AddSingleton<IConfiguration>(new ConfigurationBuilder()
            .AddInMemoryCollection(new Dictionary<string, string?> { ["ProxyProtocol:AllowUncheckedHttp3"] = allowUnchecked ? "true" : "false" })
            .Build());
        services.AddProxyProtocol();
        ServiceProvider provider = services.BuildServiceProvider();
        var kestrel = new KestrelServerOptions { ApplicationServices = provider };
        ListenOptions? endpoint = null;
        kestrel.Listen(IPAddress.Loopback, 5443, lo =>
        {
            lo.Protocols = HttpProtocols.Http3;
            lo.UseProxyProtocol();
            endpoint = lo;
        });
        return endpoint!;
    }

    private static async Task<InvalidOperationException> StartFailsAsync(Func<Task<TestHost>> start)
    {
        Exception? thrown = null;
        try
        {
            await using TestHost host = await start();
        }
        catch (Exception e)
        {
            thrown = e;
        }

        Assert.True(thrown is not null, "The application started.");
        for (Exception? e = thrown; e is not null; e = e.InnerException)
        {
            if (e is InvalidOperationException found && found.Message.Contains("PROXY", StringComparison.Ordinal))
            {
                return found;
            }
        }

        throw new Xunit.Sdk.XunitException("Expected an InvalidOperationException about PROXY headers, got: " + thrown);
    }

    private static async Task AssertNothingListensAsync(int port)
    {
        var ex = await Assert.ThrowsAsync<SocketException>(async () =>
        {
            using Socket socket = await RawHttpClient.ConnectAsync(port);
        });
        Assert.Equal(SocketError.ConnectionRefused, ex.SocketErrorCode);
    }
}
