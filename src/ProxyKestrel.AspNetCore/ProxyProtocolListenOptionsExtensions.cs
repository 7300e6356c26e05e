using Microsoft.Extensions.DependencyInjection;
using ProxyKestrel.AspNetCore;

namespace Microsoft.AspNetCore.Server.Kestrel.Core;

/// <summary>Per-endpoint PROXY protocol.</summary>
public static class ProxyProtocolListenOptionsExtensions
{
    /// <summary>
    /// Reads a PROXY protocol header at the start of every connection to this endpoint, whatever the application-wide
    /// setting. Call it before <c>UseHttps()</c> so the header is read before the TLS handshake. Options start from
    /// the application's (<c>ProxyProtocol</c> section) and <paramref name="configure"/> may change them; they are
    /// validated at once, with every error listed.
    /// </summary>
    public static ListenOptions UseProxyProtocol(this ListenOptions listenOptions, Action<ProxyProtocolOptions>? configure = null)
    {
        ArgumentNullException.ThrowIfNull(listenOptions);
        IServiceProvider services = listenOptions.ApplicationServices;
        ProxyProtocolReceiver settings = ProxyProtocolServices.ResolveSettings(services, configure);
        ProxyProtocolEndpoint endpoint = ProxyProtocolEndpoint.GetOrAdd(listenOptions, services.GetService<ProxyProtocolActivation>());
        endpoint.SetExplicit(settings);
        return listenOptions;
    }
}
