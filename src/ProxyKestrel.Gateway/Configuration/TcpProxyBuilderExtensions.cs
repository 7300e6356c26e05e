using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection.Extensions;
using ProxyKestrel.Gateway.Configuration;
using ProxyKestrel.Gateway.Mail;

namespace Microsoft.Extensions.DependencyInjection;

/// <summary>Adds the sources of the TCP routes.</summary>
public static class TcpProxyBuilderExtensions
{
    /// <summary>
    /// Adds the routes of <paramref name="section"/> (the <c>TcpProxy</c> section), read again when the configuration
    /// reloads. The first section added also gives the gateway-wide settings, <c>Transport</c> and
    /// <c>DrainTimeout</c>. A section already added (same path) is not added twice.
    /// </summary>
    public static ITcpProxyBuilder LoadFromConfig(this ITcpProxyBuilder builder, IConfiguration section)
    {
        ArgumentNullException.ThrowIfNull(builder);
        ArgumentNullException.ThrowIfNull(section);
        bool added = builder.Services.Any(d =>
            !d.IsKeyedService
            && d.ServiceType == typeof(ITcpProxyConfigProvider)
            && d.ImplementationInstance is ConfigurationTcpProxyConfigProvider existing
            && SameSection(existing.Section, section));
        if (!added)
        {
            builder.Services.AddSingleton<ITcpProxyConfigProvider>(new ConfigurationTcpProxyConfigProvider(section));
        }

        return builder;
    }

    /// <summary>
    /// Adds <paramref name="routes"/>, built in code, as an <see cref="InMemoryTcpProxyConfigProvider"/>: resolve it
    /// from the services and call <see cref="InMemoryTcpProxyConfigProvider.Update"/> to add, change or remove routes
    /// at run time. They are served together with the routes of the other providers (a configuration section, say):
    /// a route id or an endpoint used by two of them is an error.
    /// </summary>
    /// <exception cref="ArgumentException">A route is invalid; the message lists every error.</exception>
    public static ITcpProxyBuilder LoadFromMemory(this ITcpProxyBuilder builder, IReadOnlyList<TcpRouteConfig> routes)
    {
        ArgumentNullException.ThrowIfNull(builder);
        var provider = new InMemoryTcpProxyConfigProvider(routes);
        builder.Services.AddSingleton(provider);
        builder.Services.AddSingleton<ITcpProxyConfigProvider>(provider);
        return builder;
    }

    /// <summary>
    /// Registers <typeparamref name="TSelector"/> (a singleton) to choose the backend of each login on the mail routes
    /// (<c>Protocol</c> <c>Imap</c>, <c>Pop3</c> or <c>Smtp</c>) without <c>AuthHttp</c>: its answer other than null
    /// decides, null leaves the choice to the route's <c>Users</c> and <c>ClusterId</c>. Only the first selector
    /// registered is used.
    /// </summary>
    public static ITcpProxyBuilder AddMailBackendSelector<TSelector>(this ITcpProxyBuilder builder)
        where TSelector : class, IMailBackendSelector
    {
        ArgumentNullException.ThrowIfNull(builder);
        builder.Services.TryAddSingleton<IMailBackendSelector, TSelector>();
        return builder;
    }

    private static bool SameSection(IConfiguration a, IConfiguration b) =>
        ReferenceEquals(a, b) || (a is IConfigurationSection x && b is IConfigurationSection y && string.Equals(x.Path, y.Path, StringComparison.OrdinalIgnoreCase));
}
