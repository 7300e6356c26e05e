namespace ProxyKestrel.Gateway.Configuration;

/// <summary>
/// One entry of a mail route's <see cref="TcpRouteConfig.Users"/>: logins whose user name matches <see cref="Match"/>
/// go to <see cref="ClusterId"/>. The rules are tried in order; the first match wins.
/// </summary>
public sealed record TcpMailUserRule
{
    /// <summary>
    /// A .NET regular expression tried against the login name, case-insensitive and culture-invariant (anchor it with
    /// <c>^</c> and <c>$</c> to match the whole name, e.g. <c>^[a-m]</c> or <c>@example\.com$</c>).
    /// </summary>
    public required string Match { get; init; }

    /// <summary>The YARP cluster (under <c>ReverseProxy:Clusters</c>) that receives the matching logins.</summary>
    public required string ClusterId { get; init; }
}
