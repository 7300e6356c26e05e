namespace ProxyKestrel.Gateway.Configuration;

/// <summary>
/// A source of TCP routes, like YARP's <c>IProxyConfigProvider</c> for HTTP routes. Register any number of them as
/// <see cref="ITcpProxyConfigProvider"/> singletons (<c>LoadFromConfig</c> and <c>LoadFromMemory</c> each add one): the
/// gateway serves the routes of all of them together. A route id may be used once across all providers and an
/// endpoint by one route; otherwise the gateway refuses to start, or refuses the change and keeps the running routes.
/// </summary>
public interface ITcpProxyConfigProvider
{
    /// <summary>The current routes; called at start-up and after each change signalled by the last snapshot.</summary>
    ITcpProxyConfig GetConfig();
}
