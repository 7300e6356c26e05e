using Microsoft.AspNetCore.Server.Kestrel.Core;

namespace ProxyKestrel.AspNetCore;

/// <summary>
/// Makes sure app-wide mode is never silently off: every Kestrel endpoint must run the PROXY protocol middleware.
/// Endpoints created in code are checked when <c>app.UseProxyProtocol()</c> runs; endpoints Kestrel creates at start
/// (<c>--urls</c>, <c>ASPNETCORE_URLS</c>, <c>Kestrel:Endpoints</c>, the default address) are checked as Kestrel
/// creates each one, before it is bound, when a later <see cref="KestrelServerOptions.ConfigureEndpointDefaults"/>
/// call replaced the defaults that add the middleware.
/// </summary>
internal static class ProxyProtocolEndpointCoverage
{
    private const string ReplacedCause =
        "a KestrelServerOptions.ConfigureEndpointDefaults(...) call (e.g. in builder.WebHost.ConfigureKestrel) ran after "
        + "AddProxyProtocol() and replaced the endpoint defaults that add the PROXY protocol middleware.";

    private const string ReplacedFix =
        "call listenOptions.UseProxyProtocol() first in that ConfigureEndpointDefaults callback (before UseHttps()), "
        + "or call listenOptions.UseProxyProtocol() on each endpoint.";

    /// <summary>
    /// Throws, naming every uncovered endpoint created in code; when the defaults were replaced, wraps the
    /// replacement so that each endpoint Kestrel creates at start without the middleware fails start-up before it
    /// is bound.
    /// </summary>
    /// <param name="kestrel">The application's Kestrel options, fully configured.</param>
    /// <param name="servicesAdded">Whether <c>AddProxyProtocol()</c> installed the defaults (else <c>UseProxyProtocol()</c> just did).</param>
    public static void Ensure(KestrelServerOptions kestrel, bool servicesAdded)
    {
        IReadOnlyList<string> missing = ProxyProtocolKestrelInternals.MissingMembers();
        if (missing.Count > 0 || !ProxyProtocolKestrelSetup.TryGetInstalled(kestrel, out Action<ListenOptions>? installed))
        {
            throw new InvalidOperationException(ProxyProtocolKestrelInternals.DescribeMissing(missing));
        }

        Action<ListenOptions>? current = ProxyProtocolKestrelInternals.GetEndpointDefaults(kestrel);
        bool replaced = !ReferenceEquals(current, installed);
        List<ListenOptions> uncovered = [.. ProxyProtocolKestrelInternals.GetCodeBackedEndpoints(kestrel).Where(e => !ProxyProtocolEndpoint.IsConfigured(e))];
        if (uncovered.Count > 0)
        {
            (string cause, string fix) = replaced
                ? (ReplacedCause, ReplacedFix + " An endpoint created with options.Listen(...) after that call can also call it in its own callback.")
                : servicesAdded
                    ? ("it was created before the PROXY protocol endpoint defaults were installed.",
                        "call listenOptions.UseProxyProtocol() on it, before UseHttps().")
                    : ("it was configured in code before UseProxyProtocol() ran, without builder.Services.AddProxyProtocol().",
                        "call builder.Services.AddProxyProtocol() before Build(), or call listenOptions.UseProxyProtocol() on it, before UseHttps().");
            throw new InvalidOperationException(Describe(uncovered, cause, fix));
        }

        if (replaced)
        {
            Action<ListenOptions> guarded = listenOptions =>
            {
                current?.Invoke(listenOptions);
                if (!ProxyProtocolEndpoint.IsConfigured(listenOptions))
                {
                    throw new InvalidOperationException(Describe([listenOptions], ReplacedCause,
                        ReplacedFix + " (Any other endpoint from --urls, ASPNETCORE_URLS or Kestrel:Endpoints has the same problem.)"));
                }
            };
            kestrel.ConfigureEndpointDefaults(guarded);
            ProxyProtocolKestrelSetup.SetInstalled(kestrel, guarded);
        }
    }

    private static string Describe(List<ListenOptions> endpoints, string cause, string fix) =>
        (endpoints.Count == 1 ? $"The Kestrel endpoint {endpoints[0]} does" : $"The Kestrel endpoints {string.Join(", ", endpoints)} do")
        + " not run the PROXY protocol middleware, so although app.UseProxyProtocol() is on, "
        + (endpoints.Count == 1 ? "it" : "they")
        + $" would be served without reading PROXY headers: {cause} Fix: {fix}";
}
