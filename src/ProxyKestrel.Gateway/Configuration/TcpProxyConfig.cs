namespace ProxyKestrel.Gateway.Configuration;

/// <summary>The <c>TcpProxy</c> configuration section.</summary>
public sealed record TcpProxyConfig
{
    /// <summary>The section name.</summary>
    public const string SectionName = "TcpProxy";

    /// <summary>The routes, by id.</summary>
    public IReadOnlyList<TcpRouteConfig> Routes { get; init; } = [];

    /// <summary>How long open connections may go on after shutdown starts before they are closed. Default 30 s.</summary>
    public TimeSpan DrainTimeout { get; init; } = TimeSpan.FromSeconds(30);

    /// <summary>
    /// How connections are accepted and relayed. Default <see cref="TcpProxyTransport.Auto"/>: the epoll transport on
    /// Linux, the socket transport elsewhere. Read at start-up; a reload that changes it is refused.
    /// </summary>
    public TcpProxyTransport Transport { get; init; } = TcpProxyTransport.Auto;
}
