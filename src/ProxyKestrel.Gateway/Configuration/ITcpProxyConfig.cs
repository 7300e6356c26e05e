using Microsoft.Extensions.Primitives;

namespace ProxyKestrel.Gateway.Configuration;

/// <summary>
/// A snapshot of TCP routes from one <see cref="ITcpProxyConfigProvider"/>. A snapshot does not change: a provider
/// with new routes hands out a new snapshot and fires the old one's <see cref="ChangeToken"/>.
/// </summary>
public interface ITcpProxyConfig
{
    /// <summary>The routes.</summary>
    IReadOnlyList<TcpRouteConfig> Routes { get; }

    /// <summary>
    /// Fires when this snapshot is outdated; the gateway then reads every provider again. It must raise callbacks
    /// (<see cref="IChangeToken.ActiveChangeCallbacks"/>), as a <see cref="CancellationChangeToken"/> does.
    /// </summary>
    IChangeToken ChangeToken { get; }
}
