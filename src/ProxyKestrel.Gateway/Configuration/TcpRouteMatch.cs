namespace ProxyKestrel.Gateway.Configuration;

/// <summary>
/// What a connection must show for its route to be chosen among the routes that share a <c>Listen</c> endpoint (the
/// route's <c>Match</c> key). Every key that is set must match; a route without <c>Match</c> is the listener's
/// default. The most specific matching route wins: an exact SNI (or Host) before a wildcard (a longer wildcard before a
/// shorter one) before none, then the route that sets more of <see cref="Alpn"/>, <see cref="Protocol"/> and
/// <see cref="SourceNetworks"/>. Nothing is consumed: the bytes looked at are relayed unchanged after the PROXY header.
/// </summary>
public sealed record TcpRouteMatch
{
    /// <summary>
    /// Server names from the TLS ClientHello (SNI): exact names (<c>a.example.com</c>) and wildcards (<c>*.a.example.com</c>,
    /// one or more labels in front of the suffix), case-insensitive. TLS is never terminated.
    /// </summary>
    public IReadOnlyList<string>? Sni { get; init; }

    /// <summary>Application protocols the ClientHello offers (ALPN, e.g. <c>h2</c>, <c>http/1.1</c>): one of them must be offered.</summary>
    public IReadOnlyList<string>? Alpn { get; init; }

    /// <summary>
    /// Host names from the Host header of the first HTTP/1.x request (without its port), exact or <c>*.</c> wildcards,
    /// case-insensitive; the connection is then relayed as bytes (L4), whatever its later requests say.
    /// </summary>
    public IReadOnlyList<string>? Host { get; init; }

    /// <summary>What the first bytes say the client speaks: one of these.</summary>
    public IReadOnlyList<TcpClientProtocol>? Protocol { get; init; }

    /// <summary>Client networks (CIDR, e.g. <c>10.0.0.0/8</c>): the client's address (the upstream header's, if read) is in one.</summary>
    public IReadOnlyList<string>? SourceNetworks { get; init; }
}
