using System.Runtime.CompilerServices;
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
        listenOptions.Use(next => context => endpoint.IsActive
            ? endpoint.GetMiddleware(next).OnConnectionAsync(context)
            : next(context));
        return endpoint;
    }

    public static bool IsConfigured(ListenOptions listenOptions) => Endpoints.TryGetValue(listenOptions, out _);

    /// <summary>Makes this endpoint read headers with options of its own.</summary>
    public void SetExplicit(ProxyProtocolReceiver settings)
    {
        _settings = settings;
        IsExplicit = true;
    }

    private ProxyProtocolConnectionMiddleware GetMiddleware(Microsoft.AspNetCore.Connections.ConnectionDelegate next)
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
            (services.GetService<ILoggerFactory>() ?? NullLoggerFactory.Instance).CreateLogger("ProxyKestrel.AspNetCore.ProxyProtocol"),
            ProxyProtocolServices.GetMetrics(services),
            services.GetService<TimeProvider>() ?? TimeProvider.System);
        Interlocked.CompareExchange(ref _middleware, middleware, null);
        return _middleware!;
    }
}
