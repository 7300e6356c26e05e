using System.Runtime.CompilerServices;
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
    private static readonly ConditionalWeakTable<KestrelServerOptions, Action<ListenOptions>> Installed = [];

    private readonly ProxyProtocolActivation _activation;

    public ProxyProtocolKestrelSetup(ProxyProtocolActivation activation) => _activation = activation;

    public void Configure(KestrelServerOptions options) => Install(options, _activation);

    /// <summary>
    /// Chains our endpoint default in front of whatever defaults are already set. False when this Kestrel lacks the
    /// members needed (<see cref="ProxyProtocolKestrelInternals.MissingMembers"/>); app-wide mode then refuses to start.
    /// </summary>
    public static bool Install(KestrelServerOptions options, ProxyProtocolActivation activation)
    {
        if (ProxyProtocolKestrelInternals.MissingMembers().Count > 0)
        {
            return false;
        }

        Action<ListenOptions>? previous = ProxyProtocolKestrelInternals.GetEndpointDefaults(options);
        Action<ListenOptions> defaults = listenOptions =>
        {
            ProxyProtocolEndpoint.GetOrAdd(listenOptions, activation);
            previous?.Invoke(listenOptions);
        };
        options.ConfigureEndpointDefaults(defaults);
        SetInstalled(options, defaults);
        return true;
    }

    /// <summary>The endpoint defaults we set last on <paramref name="options"/>, if any.</summary>
    public static bool TryGetInstalled(KestrelServerOptions options, out Action<ListenOptions>? defaults) =>
        Installed.TryGetValue(options, out defaults);

    public static void SetInstalled(KestrelServerOptions options, Action<ListenOptions> defaults) =>
        Installed.AddOrUpdate(options, defaults);
}
