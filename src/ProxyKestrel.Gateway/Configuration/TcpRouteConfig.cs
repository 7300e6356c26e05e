namespace ProxyKestrel.Gateway.Configuration;

/// <summary>One TCP route (a key under <c>TcpProxy:Routes</c>): where to listen and which YARP cluster to relay to.</summary>
public sealed record TcpRouteConfig
{
    /// <summary>The default <see cref="ConnectTimeout"/>, 5 seconds (HAProxy's <c>timeout connect</c> in the seed setup).</summary>
    public static readonly TimeSpan DefaultConnectTimeout = TimeSpan.FromSeconds(5);

    /// <summary>The default <see cref="IdleTimeout"/>, 1 minute (HAProxy's <c>timeout client</c> and <c>timeout server</c> in the seed setup).</summary>
    public static readonly TimeSpan DefaultIdleTimeout = TimeSpan.FromMinutes(1);

    /// <summary>The default <see cref="InspectTimeout"/>, 5 seconds (a common HAProxy <c>tcp-request inspect-delay</c>).</summary>
    public static readonly TimeSpan DefaultInspectTimeout = TimeSpan.FromSeconds(5);

    /// <summary>The default <see cref="MaxInspectBytes"/>, 16 KiB (a ClientHello with post-quantum key shares fits).</summary>
    public const int DefaultMaxInspectBytes = 16 * 1024;

    /// <summary>The largest <see cref="MaxInspectBytes"/>, 128 KiB.</summary>
    public const int MaxMaxInspectBytes = 128 * 1024;

    /// <summary>The route id (its key).</summary>
    public required string RouteId { get; init; }

    /// <summary>Endpoints to listen on: <c>0.0.0.0:2525</c>, <c>127.0.0.1:2525</c>, <c>[::]:2525</c>, <c>[::1]:2525</c>.</summary>
    public IReadOnlyList<string> Listen { get; init; } = [];

    /// <summary>The YARP cluster (under <c>ReverseProxy:Clusters</c>) whose destinations receive the connections.</summary>
    public string ClusterId { get; init; } = string.Empty;

    /// <summary>How long to wait for a backend connection before trying the next destination.</summary>
    public TimeSpan ConnectTimeout { get; init; } = DefaultConnectTimeout;

    /// <summary>
    /// The shorthand for both <see cref="ClientTimeout"/> and <see cref="ServerTimeout"/>: the timeout of each side
    /// that does not set its own (HAProxy's <c>timeout client</c> and <c>timeout server</c> set to the same value).
    /// </summary>
    public TimeSpan IdleTimeout { get; init; } = DefaultIdleTimeout;

    /// <summary>
    /// The client side's timeout (HAProxy's <c>timeout client</c>): a relayed connection whose client has had no byte
    /// received from it or sent to it for this long is closed, both sides. Null: <see cref="IdleTimeout"/>.
    /// </summary>
    public TimeSpan? ClientTimeout { get; init; }

    /// <summary>
    /// The server side's timeout (HAProxy's <c>timeout server</c>): a relayed connection whose backend has had no byte
    /// received from it or sent to it for this long is closed, both sides. Null: <see cref="IdleTimeout"/>.
    /// </summary>
    public TimeSpan? ServerTimeout { get; init; }

    /// <summary>Client networks (CIDR) allowed to connect; null allows everyone. Others are closed at once.</summary>
    public IReadOnlyList<string>? AllowedClients { get; init; }

    /// <summary>The most connections open at once on this route; null for no limit. Excess clients are closed at once.</summary>
    public int? MaxConnections { get; init; }

    /// <summary>
    /// Read a PROXY header from the clients (the gateway sits behind HAProxy or a cloud load balancer); the options are
    /// those of the Kestrel middleware. Null: clients send no header.
    /// </summary>
    public ProxyProtocolOptions? AcceptProxyProtocol { get; init; }

    /// <summary>
    /// What a connection must show for this route to be chosen among the routes that share one of its <see cref="Listen"/>
    /// endpoints; null: the listener's default route. See <see cref="TcpRouteMatch"/>.
    /// </summary>
    public TcpRouteMatch? Match { get; init; }

    /// <summary>
    /// On a listener whose routes match on the client's bytes (<c>Sni</c>, <c>Alpn</c>, <c>Host</c>, <c>Protocol</c>), how
    /// long to wait for them (HAProxy's <c>tcp-request inspect-delay</c>); then the route is chosen from what arrived.
    /// Null: <see cref="DefaultInspectTimeout"/>. Routes sharing an endpoint that set it must agree.
    /// </summary>
    public TimeSpan? InspectTimeout { get; init; }

    /// <summary>
    /// On such a listener, the most bytes looked at before the route is chosen. Null: <see cref="DefaultMaxInspectBytes"/>.
    /// Routes sharing an endpoint that set it must agree.
    /// </summary>
    public int? MaxInspectBytes { get; init; }

    /// <summary>The client side's effective timeout: <see cref="ClientTimeout"/>, else <see cref="IdleTimeout"/>.</summary>
    internal TimeSpan ClientIdleTimeout => ClientTimeout ?? IdleTimeout;

    /// <summary>The server side's effective timeout: <see cref="ServerTimeout"/>, else <see cref="IdleTimeout"/>.</summary>
    internal TimeSpan ServerIdleTimeout => ServerTimeout ?? IdleTimeout;
}
