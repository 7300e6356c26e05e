using System.Runtime.CompilerServices;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;
using ProxyKestrel.AspNetCore;

namespace Microsoft.AspNetCore.Builder;

/// <summary>Application-wide PROXY protocol.</summary>
public static class ProxyProtocolApplicationBuilderExtensions
{
    private static readonly ConditionalWeakTable<KestrelServerOptions, ProxyProtocolActivation> Activations = [];

    /// <summary>
    /// Reads a PROXY protocol header at the start of every connection on every Kestrel endpoint (including those
    /// from <c>--urls</c>, <c>ASPNETCORE_URLS</c> and the <c>Kestrel:Endpoints</c> configuration), with the options of
    /// the <c>ProxyProtocol</c> configuration section. Fails with a clear message when the server is not Kestrel or
    /// the options are invalid (every error listed), and when an endpoint would not read headers: one created in code
    /// without the middleware, one left without it by a later <c>ConfigureEndpointDefaults</c> call, or one with
    /// HTTP/3 enabled (see <c>ProxyProtocol:AllowUncheckedHttp3</c>); the message names the endpoint and the fix.
    /// </summary>
    public static IApplicationBuilder UseProxyProtocol(this IApplicationBuilder app)
    {
        ArgumentNullException.ThrowIfNull(app);
        IServiceProvider services = app.ApplicationServices;
        IServer? server = services.GetService<IServer>();
        if (server is null || server.GetType().Assembly.GetName().Name != "Microsoft.AspNetCore.Server.Kestrel.Core")
        {
            throw new InvalidOperationException(
                $"UseProxyProtocol() needs the Kestrel server, because the PROXY header must be read from the connection before TLS and HTTP; "
                + $"this application's server is '{server?.GetType().FullName ?? "none"}'. Behind IIS or HTTP.sys, let that server handle "
                + "the proxy, or use Kestrel.");
        }

        ProxyProtocolReceiver settings = ProxyProtocolServices.ResolveSettings(services, configure: null);
        KestrelServerOptions kestrel = services.GetRequiredService<IOptions<KestrelServerOptions>>().Value;
        ProxyProtocolActivation? activation = services.GetService<ProxyProtocolActivation>();
        bool servicesAdded = activation is not null;
        if (activation is null && !Activations.TryGetValue(kestrel, out activation))
        {
            // AddProxyProtocol() was not called: install the endpoint defaults now. Endpoints bound at start
            // (--urls, ASPNETCORE_URLS, Kestrel:Endpoints) get the middleware; those already created in code cannot.
            activation = new ProxyProtocolActivation();
            Activations.Add(kestrel, activation);
            if (!ProxyProtocolKestrelSetup.Install(kestrel, activation))
            {
                throw new InvalidOperationException(ProxyProtocolKestrelInternals.DescribeMissing(ProxyProtocolKestrelInternals.MissingMembers()));
            }
        }

        // Every endpoint must run the middleware: fail now for those created in code, at start (before binding) for
        // those Kestrel creates then.
        ProxyProtocolEndpointCoverage.Ensure(kestrel, servicesAdded);
        activation.Activate(settings);
        return app;
    }
}
