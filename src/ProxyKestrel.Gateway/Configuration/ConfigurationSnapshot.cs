using Microsoft.Extensions.Primitives;

namespace ProxyKestrel.Gateway.Configuration;

/// <summary>One reading of a configuration section: the routes, the gateway-wide settings and the reading errors.</summary>
internal sealed class ConfigurationSnapshot(TcpProxyConfig config, IReadOnlyList<string> errors, IChangeToken changeToken) : ITcpProxyConfig
{
    public TcpProxyConfig Config { get; } = config;

    public IReadOnlyList<string> Errors { get; } = errors;

    public IReadOnlyList<TcpRouteConfig> Routes => Config.Routes;

    public IChangeToken ChangeToken { get; } = changeToken;
}
