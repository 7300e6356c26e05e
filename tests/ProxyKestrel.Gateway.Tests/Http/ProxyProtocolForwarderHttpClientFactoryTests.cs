using Microsoft.Extensions.DependencyInjection;
using ProxyKestrel.Gateway.Http;
using Yarp.ReverseProxy.Configuration;
using Yarp.ReverseProxy.Forwarder;

namespace ProxyKestrel.Gateway.Tests.Http;

/// <summary>Which client each cluster gets from the factory <c>AddProxyProtocolForwarding</c> registers.</summary>
public sealed class ProxyProtocolForwarderHttpClientFactoryTests
{
    private static readonly Dictionary<string, string> V1 = new() { ["ProxyProtocol"] = "v1" };
    private static readonly Dictionary<string, string> V2 = new() { ["ProxyProtocol"] = "v2" };

    [Fact]
    public void Clusters_without_ProxyProtocol_metadata_keep_yarps_client()
    {
        IForwarderHttpClientFactory factory = CreateFactory();
        using HttpMessageInvoker client = factory.CreateClient(Context(metadata: null));
        Assert.IsNotType<ProxyProtocolForwarderHttpClientFactory.ProxyProtocolInvoker>(client);
    }

    [Fact]
    public void Clusters_with_ProxyProtocol_metadata_get_a_per_client_connection_client_reused_while_unchanged()
    {
        IForwarderHttpClientFactory factory = CreateFactory();
        HttpMessageInvoker first = factory.CreateClient(Context(V1));
        Assert.IsType<ProxyProtocolForwarderHttpClientFactory.ProxyProtocolInvoker>(first);

        Assert.Same(first, factory.CreateClient(Context(V1, old: first, oldMetadata: V1)));
        HttpMessageInvoker v2 = factory.CreateClient(Context(V2, old: first, oldMetadata: V1));
        Assert.NotSame(first, v2);
        Assert.IsType<ProxyProtocolForwarderHttpClientFactory.ProxyProtocolInvoker>(v2);

        // The header is no longer wanted: YARP's factory must not reuse the old client.
        HttpMessageInvoker plain = factory.CreateClient(Context(metadata: null, old: v2, oldMetadata: V2));
        Assert.IsNotType<ProxyProtocolForwarderHttpClientFactory.ProxyProtocolInvoker>(plain);
        first.Dispose();
        v2.Dispose();
        plain.Dispose();
    }

    [Fact]
    public void Registration_is_idempotent_and_decorates_yarps_factory()
    {
        var services = new ServiceCollection();
        services.AddLogging();
        services.AddReverseProxy().AddProxyProtocolForwarding().AddProxyProtocolForwarding();
        Assert.Single(services, d => d.ServiceType == typeof(IForwarderHttpClientFactory));
        using ServiceProvider provider = services.BuildServiceProvider();
        Assert.IsType<ProxyProtocolForwarderHttpClientFactory>(provider.GetRequiredService<IForwarderHttpClientFactory>());
    }

    private static IForwarderHttpClientFactory CreateFactory()
    {
        var services = new ServiceCollection();
        services.AddLogging();
        services.AddReverseProxy().AddProxyProtocolForwarding();
        return services.BuildServiceProvider().GetRequiredService<IForwarderHttpClientFactory>();
    }

    private static ForwarderHttpClientContext Context(
        IReadOnlyDictionary<string, string>? metadata, HttpMessageInvoker? old = null, IReadOnlyDictionary<string, string>? oldMetadata = null) => new()
    {
        ClusterId = "app",
        OldConfig = HttpClientConfig.Empty,
        OldMetadata = oldMetadata,
        OldClient = old,
        NewConfig = HttpClientConfig.Empty,
        NewMetadata = metadata,
    };
}
