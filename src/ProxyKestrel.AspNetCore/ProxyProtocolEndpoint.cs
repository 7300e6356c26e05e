using System.Runtime.CompilerServices;
using Microsoft.AspNetCore.Connections;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;

namespace ProxyKestrel.AspNetCore;

/// <summary>
/// The PROXY protocol state of one Kestrel endpoint. The middleware is added once per endpoint; whether it reads
/// headers, and with which options, is decided here: explicitly (<c>listenOptions.UseProxyProtocol()</c>) or by the
/// application-wide switch (<c>app.UseProxyProtocol()</c>).
/// </summary>
internal sealed class ProxyProtocolEndpoint
{
    private static readonly ConditionalWeakTable<ListenOptions, ProxyProtocolEndpoint> Endpoints = [];
    private readonly ListenOptions _listenOptions;
    private readonly ProxyProtocolActivation? _activation;
    private ProxyProtocolReceiver? _settings;
    private ProxyProtocolConnectionMiddleware? _middleware;
    private int _http3WarningLogged;

    private ProxyProtocolEndpoint(ListenOptions listenOptions, ProxyProtocolActivation? activation)
    {
        _listenOptions = listenOptions;
        _activation = activation;
    }

    /// <summary>True once <c>listenOptions.UseProxyProtocol()</c> was called for this endpoint.</summary>
    public bool IsExplicit { get; private set; }

    public bool IsActive => IsExplicit || (_activation?.IsActive ?? false);

    /// <summary>Adds the middleware to <paramref name="listenOptions"/> the first time; later calls reuse it.</summary>
    public static ProxyProtocolEndpoint GetOrAdd(ListenOptions listenOptions, ProxyProtocolActivation? activation)
    {
        if (Endpoints.TryGetValue(listenOptions, out ProxyProtocolEndpoint? existing))
        {
            return existing;
        }

        var endpoint = new ProxyProtocolEndpoint(listenOptions, activation);
        Endpoints.Add(listenOptions, endpoint);
        listenOptions.Use(next =>
        {
            // Kestrel builds the pipeline right before it binds the endpoint.
            endpoint.CheckHttp3();
            return context => endpoint.IsActive
                ? endpoint.GetMiddleware(next).OnConnectionAsync(context)
                : next(context);
        });

        // QUIC connections (HTTP/3) have a pipeline of their own, built only when Kestrel binds QUIC; it cannot read a
        // header. This only stops start-up for an HTTP/3-only endpoint, whose TCP pipeline above is never built.
        ((IMultiplexedConnectionBuilder)listenOptions).Use(next =>
        {
            endpoint.CheckHttp3();
            return next;
        });
        return endpoint;
    }

    /// <summary>
    /// When this endpoint reads headers and has HTTP/3 in its <see cref="ListenOptions.Protocols"/>: stops start-up,
    /// or with <see cref="ProxyProtocolKestrelOptions.AllowUncheckedHttp3"/> logs a warning once. Decided on the
    /// configuration alone, whether or not QUIC is available on this machine.
    /// </summary>
    public void CheckHttp3()
    {
        if (!IsActive || (_listenOptions.Protocols & HttpProtocols.Http3) == 0)
        {
            return;
        }

        IServiceProvider services = _listenOptions.ApplicationServices;
        if (!ProxyProtocolServices.ResolveKestrelOptions(services).AllowUncheckedHttp3)
        {
            throw new InvalidOperationException(
                $"The Kestrel endpoint {_listenOptions} reads PROXY headers but has HTTP/3 in its Protocols ({_listenOptions.Protocols}). "
                + "HTTP/3 runs over QUIC, whose connections never pass through connection middleware: they would be served without a PROXY header "
                + "and without the ProxyProtocol:TrustedNetworks check (UntrustedPeers=Reject would not apply to them). "
                + "Fix: remove Http3 from this endpoint's Protocols (e.g. Http1AndHttp2; also check Kestrel:EndpointDefaults:Protocols), "
                + "or set ProxyProtocol:AllowUncheckedHttp3=true to serve HTTP/3 unchecked (a warning is then logged).");
        }

        if (Interlocked.Exchange(ref _http3WarningLogged, 1) == 0)
        {
            ProxyProtocolLog.Http3Unchecked(CreateLogger(services), _listenOptions.ToString() ?? string.Empty, _listenOptions.Protocols);
        }
    }

    public static bool IsConfigured(ListenOptions listenOptions) => Endpoints.TryGetValue(listenOptions, out _);

    /// <summary>Makes this endpoint read headers with options of its own.</summary>
    public void SetExplicit(ProxyProtocolReceiver settings)
    {
        _settings = settings;
        IsExplicit = true;
    }

    private ProxyProtocolConnectionMiddleware GetMiddleware(ConnectionDelegate next)
    {
        ProxyProtocolConnectionMiddleware? middleware = Volatile.Read(ref _middleware);
        if (middleware is not null)
        {
            return middleware;
        }

        IServiceProvider services = _listenOptions.ApplicationServices;
        ProxyProtocolReceiver settings = _settings ?? _activation?.Settings ?? ProxyProtocolServices.ResolveSettings(services, configure: null);
        middleware = new ProxyProtocolConnectionMiddleware(
            next,
            settings,
            CreateLogger(services),
            ProxyProtocolServices.GetMetrics(services),
            services.GetService<TimeProvider>() ?? TimeProvider.System);
        Interlocked.CompareExchange(ref _middleware, middleware, null);
        return _middleware!;
    }

    private static ILogger CreateLogger(IServiceProvider services) =>
        (services.GetService<ILoggerFactory>() ?? NullLoggerFactory.Instance).CreateLogger("ProxyKestrel.AspNetCore.ProxyProtocol");
}
