using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Diagnostics.HealthChecks;

namespace ProxyKestrel.Gateway.Admin;

/// <summary>
/// <see cref="ITcpProxyReadiness"/> as an ASP.NET Core health check: healthy when ready, else the registration's
/// failure status with the reasons (joined in the description, one by one in the data under
/// <see cref="TcpProxyHealthChecksBuilderExtensions.ReasonsKey"/>).
/// </summary>
internal sealed class TcpProxyHealthCheck(ITcpProxyReadiness readiness) : IHealthCheck
{
    public Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken cancellationToken = default)
    {
        TcpProxyReadinessReport report = readiness.Check();
        if (report.IsReady)
        {
            return Task.FromResult(HealthCheckResult.Healthy("ready"));
        }

        var data = new Dictionary<string, object> { [TcpProxyHealthChecksBuilderExtensions.ReasonsKey] = report.Reasons };
        return Task.FromResult(new HealthCheckResult(context.Registration.FailureStatus, string.Join("; ", report.Reasons), data: data));
    }
}
