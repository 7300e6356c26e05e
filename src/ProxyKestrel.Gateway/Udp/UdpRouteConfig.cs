namespace ProxyKestrel.Gateway.Udp;

/// <summary>
/// A UDP route (<c>UdpProxy:Routes:{RouteId}</c>): datagrams received on <see cref="Listen"/> are relayed to a
/// destination of the YARP cluster <see cref="ClusterId"/>, each with the PROXY v2 header the cluster's
/// <c>ProxyProtocol</c> metadata asks for; replies go back to the client without one.
/// </summary>
public sealed record UdpRouteConfig
{
    /// <summary>The default <see cref="IdleTimeout"/>: 30 seconds.</summary>
    public static readonly TimeSpan DefaultIdleTimeout = TimeSpan.FromSeconds(30);

    /// <summary>The default <see cref="MaxSessions"/>.</summary>
    public const int DefaultMaxSessions = 100_000;

    /// <summary>The largest UDP payload over IPv4 (65,535 minus the IP and UDP headers); header and data must fit in it.</summary>
    public const int MaxDatagramSize = 65_507;

    /// <summary>The route id (the key under <c>Routes</c>).</summary>
    public string RouteId { get; init; } = string.Empty;

    /// <summary>The endpoints to receive on, such as <c>0.0.0.0:5353</c>, <c>127.0.0.1:5353</c> or <c>[::]:5353</c>.</summary>
    public IReadOnlyList<string> Listen { get; init; } = [];

    /// <summary>The YARP cluster whose destinations (<c>udp://HOST:PORT</c>) receive the datagrams.</summary>
    public string ClusterId { get; init; } = string.Empty;

    /// <summary>
    /// How long a client's session lives without a datagram in either direction; its later datagrams go to the same
    /// destination until then. Default 30 s, allowed 1 s to 1 h.
    /// </summary>
    public TimeSpan IdleTimeout { get; init; } = DefaultIdleTimeout;

    /// <summary>
    /// The most concurrent client sessions of the route (over all its <see cref="Listen"/> endpoints); datagrams of new
    /// clients beyond it are dropped and counted. Default 100,000.
    /// </summary>
    public int MaxSessions { get; init; } = DefaultMaxSessions;

    /// <summary>
    /// Accept a PROXY v2 header on each datagram from trusted senders (an upstream proxy such as dnsdist): the header is
    /// stripped and its client is the one passed on. Null (the default): datagrams carry no header.
    /// </summary>
    public ProxyProtocolOptions? AcceptProxyProtocol { get; init; }
}
