using Microsoft.Extensions.Diagnostics.HealthChecks;
using ProxyKestrel.Gateway.Admin;

namespace Microsoft.Extensions.DependencyInjection;

/// <summary>Adds the TCP gateway's readiness to ASP.NET Core's health checks.</summary>
public static class TcpProxyHealthChecksBuilderExtensions
{
    /// <summary>
    /// The key, in the health report entry's data, of the reasons the gateway is not ready (an
    /// <c>IReadOnlyList&lt;string&gt;</c>).
    /// </summary>
    public const string ReasonsKey = "reasons";

    /// <summary>
    /// Adds a health check named <paramref name="name"/> that reports <see cref="ITcpProxyReadiness"/> (registered
    /// too): healthy when the gateway is ready, <paramref name="failureStatus"/> (default unhealthy) with the reasons
    /// otherwise. Map it with <c>MapHealthChecks("/readyz")</c> (or <c>UseHealthChecks</c>), alongside the
    /// application's own checks. Call after <c>AddTcpProxy()</c>. Calling it again with the same name adds nothing.
    /// </summary>
    public static IHealthChecksBuilder AddTcpProxyReadiness(
        this IHealthChecksBuilder builder,
        string name = "tcp-proxy",
        HealthStatus? failureStatus = null,
        IEnumerable<string>? tags = null)
    {
        ArgumentNullException.ThrowIfNull(builder);
        ArgumentException.ThrowIfNullOrEmpty(name);
        builder.Services.AddTcpProxyReadiness();
        builder.Services.Configure<HealthCheckServiceOptions>(options =>
        {
            // Once per name, however often called (ASP.NET Core refuses two checks of the same name).
            if (!options.Registrations.Any(r => string.Equals(r.Name, name, StringComparison.OrdinalIgnoreCase)))
            {
                options.Registrations.Add(new HealthCheckRegistration(
                    name,
                    sp => new TcpProxyHealthCheck(sp.GetRequiredService<ITcpProxyReadiness>()),
                    failureStatus,
                    tags));
            }
        });
        return builder;
    }
}
