using System.Diagnostics;
using System.Net;
using Microsoft.Extensions.Logging;
using ProxyKestrel.Gateway.Configuration;
using Yarp.ReverseProxy.Configuration;
using Yarp.ReverseProxy.Forwarder;

namespace ProxyKestrel.Gateway.Http;

/// <summary>
/// YARP's HTTP client factory for clusters whose metadata asks for a PROXY header (<c>ProxyProtocol</c> = v1/v2):
/// their client keeps one backend connection pool per inbound connection, each connection starting with the header of
/// that inbound connection's client. Other clusters get the client of the factory this one decorates.
/// </summary>
internal sealed class ProxyProtocolForwarderHttpClientFactory : IForwarderHttpClientFactory
{
    private readonly IForwarderHttpClientFactory _inner;
    private readonly ILogger _logger;
    private readonly HandlerConfigurator _configurator = new();

    public ProxyProtocolForwarderHttpClientFactory(IForwarderHttpClientFactory inner, ILogger logger)
    {
        _inner = inner;
        _logger = logger;
    }

    /// <inheritdoc/>
    public HttpMessageInvoker CreateClient(ForwarderHttpClientContext context)
    {
        ArgumentNullException.ThrowIfNull(context);
        ClusterProxyProtocol protocol = Read(context.ClusterId, context.NewMetadata);
        PerClientConnectionHandler? old = (context.OldClient as ProxyProtocolInvoker)?.Handler;
        if (protocol.Version is null)
        {
            // The inner factory must not reuse a client of ours (the cluster stopped asking for a header).
            return old is null ? _inner.CreateClient(context) : _inner.CreateClient(new ForwarderHttpClientContext
            {
                ClusterId = context.ClusterId,
                OldConfig = context.OldConfig,
                OldMetadata = context.OldMetadata,
                OldClient = null,
                NewConfig = context.NewConfig,
                NewMetadata = context.NewMetadata,
            });
        }

        if (old is not null && context.OldConfig == context.NewConfig && old.Protocol == protocol)
        {
            return context.OldClient!;
        }

        var handler = new PerClientConnectionHandler(context.ClusterId, protocol, () => CreateHandler(context), _logger);
        ProxyProtocolHttpLog.ClientCreated(_logger, context.ClusterId, protocol.Version.Value);
        return new ProxyProtocolInvoker(handler);
    }

    private static ClusterProxyProtocol Read(string clusterId, IReadOnlyDictionary<string, string>? metadata)
    {
        if (metadata is null || !metadata.ContainsKey(ClusterProxyProtocol.VersionKey))
        {
            return ClusterProxyProtocol.None;
        }

        // Invalid metadata is refused by ProxyProtocolClusterValidator before a client is asked for.
        return ClusterProxyProtocol.Read(new ClusterConfig { ClusterId = clusterId, Metadata = metadata }, []);
    }

    private SocketsHttpHandler CreateHandler(ForwarderHttpClientContext context)
    {
        // YARP's defaults (ForwarderHttpClientFactory), then the cluster's HttpClient settings.
        var handler = new SocketsHttpHandler
        {
            UseProxy = false,
            AllowAutoRedirect = false,
            AutomaticDecompression = DecompressionMethods.None,
            UseCookies = false,
            EnableMultipleHttp2Connections = true,
            ActivityHeadersPropagator = new ReverseProxyPropagator(DistributedContextPropagator.Current),
            ConnectTimeout = TimeSpan.FromSeconds(15),
        };
        _configurator.Configure(context, handler);

        // A web proxy would receive the header meant for the backend.
        handler.UseProxy = false;
        handler.Proxy = null;
        return handler;
    }

    /// <summary>The invoker of a cluster with a PROXY header, recognisable on reload.</summary>
    internal sealed class ProxyProtocolInvoker(PerClientConnectionHandler handler) : HttpMessageInvoker(handler, disposeHandler: true)
    {
        public PerClientConnectionHandler Handler { get; } = handler;
    }

    /// <summary>Applies YARP's per-cluster <see cref="HttpClientConfig"/> to a handler.</summary>
    private sealed class HandlerConfigurator : ForwarderHttpClientFactory
    {
        public void Configure(ForwarderHttpClientContext context, SocketsHttpHandler handler) => ConfigureHandler(context, handler);
    }
}
