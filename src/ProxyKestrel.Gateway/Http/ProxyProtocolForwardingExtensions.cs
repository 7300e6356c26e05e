using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Logging;
using ProxyKestrel.Gateway.Configuration;
using ProxyKestrel.Gateway.Http;
using Yarp.ReverseProxy.Configuration.ClusterValidators;
using Yarp.ReverseProxy.Forwarder;
using Yarp.ReverseProxy.Transforms;

namespace Microsoft.Extensions.DependencyInjection;

/// <summary>Registers PROXY protocol headers for YARP's HTTP forwarding (HAProxy's <c>send-proxy</c> on HTTP backends).</summary>
public static class ProxyProtocolForwardingExtensions
{
    /// <summary>
    /// Makes HTTP routes forwarding to a cluster whose metadata has <c>ProxyProtocol</c> = <c>v1</c>/<c>v2</c> (and
    /// optionally <c>ProxyProtocol.Tlvs</c>: <c>unique-id</c>, <c>crc32c</c>, <c>authority</c> = the inbound TLS
    /// SNI) send a PROXY header on every backend connection, naming the client of the inbound connection the request
    /// came from. Backend connections are pooled per inbound connection, never shared between clients, and closed
    /// when the inbound connection closes; HTTP/1.1 and HTTP/2 (including h2c with <c>RequestVersionExact</c>) work.
    /// Other clusters keep the previously registered <see cref="IForwarderHttpClientFactory"/>. Call after any custom
    /// <see cref="IForwarderHttpClientFactory"/> registration.
    /// </summary>
    public static IReverseProxyBuilder AddProxyProtocolForwarding(this IReverseProxyBuilder builder)
    {
        ArgumentNullException.ThrowIfNull(builder);
        IServiceCollection services = builder.Services;
        if (services.Any(d => d.ServiceType == typeof(ProxyProtocolForwardingMarker)))
        {
            return builder;
        }

        services.AddSingleton<ProxyProtocolForwardingMarker>();
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IClusterValidator, ProxyProtocolClusterValidator>());

        ServiceDescriptor? previous = services.LastOrDefault(d => d.ServiceType == typeof(IForwarderHttpClientFactory) && !d.IsKeyedService);
        Func<IServiceProvider, IForwarderHttpClientFactory> inner = previous switch
        {
            { ImplementationInstance: IForwarderHttpClientFactory instance } => _ => instance,
            { ImplementationFactory: { } factory } => sp => (IForwarderHttpClientFactory)factory(sp),
            { ImplementationType: { } type } => sp => (IForwarderHttpClientFactory)ActivatorUtilities.CreateInstance(sp, type),
            _ => sp => ActivatorUtilities.CreateInstance<ForwarderHttpClientFactory>(sp),
        };
        services.RemoveAll<IForwarderHttpClientFactory>();
        services.AddSingleton<IForwarderHttpClientFactory>(sp => new ProxyProtocolForwarderHttpClientFactory(
            inner(sp), sp.GetRequiredService<ILoggerFactory>().CreateLogger("ProxyKestrel.Gateway.Http")));

        // Every route: a cluster's metadata may change on reload without its routes changing.
        builder.AddTransforms(context => context.AddRequestTransform(transform =>
        {
            transform.ProxyRequest.Options.Set(InboundConnectionKey.HttpContext, transform.HttpContext);
            return default;
        }));
        return builder;
    }

    /// <summary>Marks the registration as done (the method is idempotent).</summary>
    private sealed class ProxyProtocolForwardingMarker;
}
