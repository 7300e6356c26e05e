namespace ProxyKestrel.Gateway.Udp;

/// <summary>The UDP routes of the gateway (the <c>UdpProxy</c> section).</summary>
public sealed record UdpProxyConfig
{
    /// <summary>The configuration section name.</summary>
    public const string SectionName = "UdpProxy";

    /// <summary>The default <see cref="DrainTimeout"/>: 5 seconds.</summary>
    public static readonly TimeSpan DefaultDrainTimeout = TimeSpan.FromSeconds(5);

    /// <summary>
    /// How datagrams are received and sent: <c>Auto</c> (the default: <c>Epoll</c> on Linux, else <c>Sockets</c>),
    /// <c>Epoll</c> (Linux: event loops with <c>recvmmsg</c>/<c>sendmmsg</c>) or <c>Sockets</c> (System.Net.Sockets, any
    /// OS). Read at start-up.
    /// </summary>
    public ProxyKestrel.Gateway.Configuration.TcpProxyTransport Transport { get; init; }

    /// <summary>The routes.</summary>
    public IReadOnlyList<UdpRouteConfig> Routes { get; init; } = [];

    /// <summary>
    /// On shutdown, how long sessions that already exist may go on (their replies still reach the client) while new
    /// clients are refused; then every session ends. Default 5 s, allowed 0 to 1 h.
    /// </summary>
    public TimeSpan DrainTimeout { get; init; } = DefaultDrainTimeout;
}
