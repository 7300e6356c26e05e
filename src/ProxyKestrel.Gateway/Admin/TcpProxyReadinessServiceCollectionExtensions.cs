using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Hosting;
using ProxyKestrel.Gateway.Admin;
using ProxyKestrel.Gateway.Routing;
using Yarp.ReverseProxy;

using ProxyKestrel.Gateway.Listeners;

namespace Microsoft.Extensions.DependencyInjection;

/// <summary>Registers <see cref="ITcpProxyReadiness"/>.</summary>
public static class TcpProxyReadinessServiceCollectionExtensions
{
    /// <summary>
    /// Adds <see cref="ITcpProxyReadiness"/>, the gateway's readiness for a <c>/readyz</c> endpoint (once, however
    /// often called). To serve it as an ASP.NET Core health check, use
    /// <c>AddHealthChecks().AddTcpProxyReadiness()</c>. Call after <c>AddTcpProxy(...)</c>.
    /// </summary>
    public static IServiceCollection AddTcpProxyReadiness(this IServiceCollection services)
    {
        ArgumentNullException.ThrowIfNull(services);
        services.TryAddSingleton<ITcpProxyReadiness>(sp => new TcpProxyReadiness(
            sp.GetRequiredService<TcpProxyListenerManager>(),
            sp.GetRequiredService<IProxyStateLookup>(),
            sp.GetService<IHostApplicationLifetime>()));
        return services;
    }
}
