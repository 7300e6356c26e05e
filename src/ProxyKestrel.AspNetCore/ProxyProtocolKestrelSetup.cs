using System.Reflection;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Microsoft.Extensions.Options;

namespace ProxyKestrel.AspNetCore;

/// <summary>
/// Puts the (dormant) PROXY protocol middleware first on every Kestrel endpoint through the endpoint defaults, so
/// endpoints from code, from configuration and from <c>--urls</c> / <c>ASPNETCORE_URLS</c> all have it, ahead of
/// TLS. It reads headers only once <c>app.UseProxyProtocol()</c> activates it.
/// </summary>
internal sealed class ProxyProtocolKestrelSetup : IConfigureOptions<KestrelServerOptions>
{
    private static readonly PropertyInfo? EndpointDefaultsProperty =
        typeof(KestrelServerOptions).GetProperty("EndpointDefaults", BindingFlags.Instance | BindingFlags.NonPublic);

    private readonly ProxyProtocolActivation _activation;

    public ProxyProtocolKestrelSetup(ProxyProtocolActivation activation) => _activation = activation;

    public void Configure(KestrelServerOptions options) => Install(options, _activation);

    /// <summary>Chains our endpoint default in front of whatever defaults are already set.</summary>
    public static bool Install(KestrelServerOptions options, ProxyProtocolActivation activation)
    {
        Action<ListenOptions>? previous = EndpointDefaultsProperty?.GetValue(options) as Action<ListenOptions>;
        if (EndpointDefaultsProperty is null)
        {
            return false;
        }

        options.ConfigureEndpointDefaults(listenOptions =>
        {
            ProxyProtocolEndpoint.GetOrAdd(listenOptions, activation);
            previous?.Invoke(listenOptions);
        });
        return true;
    }

    /// <summary>Endpoints created in code (<c>options.Listen(...)</c>) before our defaults were installed, if they can be seen.</summary>
    public static IEnumerable<ListenOptions> CodeBackedEndpoints(KestrelServerOptions options)
    {
        PropertyInfo? property = typeof(KestrelServerOptions).GetProperty("CodeBackedListenOptions", BindingFlags.Instance | BindingFlags.NonPublic);
        return property?.GetValue(options) as IEnumerable<ListenOptions> ?? [];
    }
}
