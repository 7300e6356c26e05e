namespace ProxyKestrel.Gateway.Admin;

/// <summary>
/// Whether the gateway should receive traffic (a Kubernetes readiness probe, a load balancer's health check): the
/// TCP listeners are bound, the last configuration change was applied, each TCP cluster has a destination that is not
/// unhealthy, and the host is not shutting down. Registered by <c>AddTcpProxyReadiness()</c>.
/// </summary>
public interface ITcpProxyReadiness
{
    /// <summary>Evaluates the readiness now.</summary>
    TcpProxyReadinessReport Check();
}

/// <summary>The result of <see cref="ITcpProxyReadiness.Check"/>.</summary>
/// <param name="Reasons">Why the gateway is not ready; empty when it is.</param>
public sealed record TcpProxyReadinessReport(IReadOnlyList<string> Reasons)
{
    /// <summary>True when there is no reason not to be ready.</summary>
    public bool IsReady => Reasons.Count == 0;
}
