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

    /// <summary>The default <see cref="LoginTimeout"/> of a mail route, 60 seconds (nginx's <c>auth_http_timeout</c>).</summary>
    public static readonly TimeSpan DefaultLoginTimeout = TimeSpan.FromSeconds(60);

    /// <summary>The default <see cref="FailedLoginDelay"/> of a mail route, 1 second.</summary>
    public static readonly TimeSpan DefaultFailedLoginDelay = TimeSpan.FromSeconds(1);

    /// <summary>The default <see cref="MaxLineLength"/> of a mail route, 8 KiB.</summary>
    public const int DefaultMaxLineLength = 8192;

    /// <summary>The smallest <see cref="MaxLineLength"/>, 512 bytes (SMTP's shortest allowed command line).</summary>
    public const int MinMaxLineLength = 512;

    /// <summary>The largest <see cref="MaxLineLength"/>, 64 KiB.</summary>
    public const int MaxMaxLineLength = 64 * 1024;

    /// <summary>The default <see cref="ServerName"/> of a mail route.</summary>
    public const string DefaultServerName = "ProxyKestrel";

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

    /// <summary>
    /// <see cref="TcpRouteProtocol.Tcp"/> (the default): relay the client's bytes. <see cref="TcpRouteProtocol.Imap"/>,
    /// <see cref="TcpRouteProtocol.Pop3"/>, <see cref="TcpRouteProtocol.Smtp"/>: the gateway's mail front speaks the
    /// protocol to the client, reads its login, picks the backend from it (<see cref="AuthHttp"/>, a registered
    /// <c>IMailBackendSelector</c>, <see cref="Users"/>, else <see cref="ClusterId"/>), logs in there and then relays.
    /// The keys below apply to mail routes only.
    /// </summary>
    public TcpRouteProtocol Protocol { get; init; } = TcpRouteProtocol.Tcp;

    /// <summary>
    /// Mail routes: rules choosing the cluster from the login name, tried in order (a case-insensitive regular
    /// expression each); the first match wins, a name matching none goes to <see cref="ClusterId"/>. Not with
    /// <see cref="AuthHttp"/>.
    /// </summary>
    public IReadOnlyList<TcpMailUserRule>? Users { get; init; }

    /// <summary>
    /// Mail routes: an absolute http or https URL asked for every login as nginx's <c>auth_http</c> is (the request
    /// headers <c>Auth-User</c>, <c>Auth-Pass</c>, <c>Auth-Protocol</c>, ...; the answer's <c>Auth-Status</c>,
    /// <c>Auth-Server</c>, <c>Auth-Port</c>). Its answer decides alone: the backend it names, or the refusal.
    /// </summary>
    public string? AuthHttp { get; init; }

    /// <summary>Mail routes: the front's certificate and whether TLS is implicit or offered by STARTTLS / STLS; null: no TLS.</summary>
    public TcpMailTlsConfig? Tls { get; init; }

    /// <summary>
    /// Mail routes: accept a login over a connection that is not encrypted (false, the default: only after STARTTLS /
    /// STLS or on implicit TLS).
    /// </summary>
    public bool AllowPlaintextLogin { get; init; }

    /// <summary>
    /// Mail routes: the most time from the accept until the backend accepted the login (the client's commands, the
    /// choice of the backend, the backend's greeting and login); then the client is closed. Null:
    /// <see cref="DefaultLoginTimeout"/>.
    /// </summary>
    public TimeSpan? LoginTimeout { get; init; }

    /// <summary>Mail routes: the pause before a failed login is answered. Null: <see cref="DefaultFailedLoginDelay"/>.</summary>
    public TimeSpan? FailedLoginDelay { get; init; }

    /// <summary>
    /// Mail routes: the longest client command line (and IMAP literal) before the login, in bytes without the CRLF,
    /// <see cref="MinMaxLineLength"/> to <see cref="MaxMaxLineLength"/>. Null: <see cref="DefaultMaxLineLength"/>.
    /// </summary>
    public int? MaxLineLength { get; init; }

    /// <summary>Mail routes: the name in the front's greeting (and SMTP's EHLO answer). Null: <see cref="DefaultServerName"/>.</summary>
    public string? ServerName { get; init; }

    /// <summary>Whether the gateway's mail front serves this route (<see cref="Protocol"/> is not <see cref="TcpRouteProtocol.Tcp"/>).</summary>
    internal bool IsMail => Protocol != TcpRouteProtocol.Tcp;

    /// <summary>The effective login timeout: <see cref="LoginTimeout"/>, else <see cref="DefaultLoginTimeout"/>.</summary>
    internal TimeSpan EffectiveLoginTimeout => LoginTimeout ?? DefaultLoginTimeout;

    /// <summary>The effective failed-login delay: <see cref="FailedLoginDelay"/>, else <see cref="DefaultFailedLoginDelay"/>.</summary>
    internal TimeSpan EffectiveFailedLoginDelay => FailedLoginDelay ?? DefaultFailedLoginDelay;

    /// <summary>The effective line limit: <see cref="MaxLineLength"/>, else <see cref="DefaultMaxLineLength"/>.</summary>
    internal int EffectiveMaxLineLength => MaxLineLength ?? DefaultMaxLineLength;

    /// <summary>The effective greeting name: <see cref="ServerName"/>, else <see cref="DefaultServerName"/>.</summary>
    internal string EffectiveServerName => ServerName ?? DefaultServerName;

    /// <summary>The client side's effective timeout: <see cref="ClientTimeout"/>, else <see cref="IdleTimeout"/>.</summary>
    internal TimeSpan ClientIdleTimeout => ClientTimeout ?? IdleTimeout;

    /// <summary>The server side's effective timeout: <see cref="ServerTimeout"/>, else <see cref="IdleTimeout"/>.</summary>
    internal TimeSpan ServerIdleTimeout => ServerTimeout ?? IdleTimeout;
}
