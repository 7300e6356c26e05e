using System.Net;
using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Diagnostics.HealthChecks;
using ProxyKestrel.Gateway.Configuration;
using ProxyKestrel.Gateway.Tests.Configuration;
using ProxyKestrel.Gateway.Tests.Infrastructure;

namespace ProxyKestrel.Gateway.Tests.Admin;

/// <summary>
/// The gateway's readiness as an ASP.NET Core health check (<c>AddHealthChecks().AddTcpProxyReadiness()</c>), mapped
/// with <c>MapHealthChecks("/readyz")</c> next to the application's own checks.
/// </summary>
public class ReadinessHealthCheckTests
{
    [Fact]
    public async Task Readyz_GatewayReadyAndUserCheckHealthy_Returns200()
    {
        await using var backend = new ProxyBackend();
        await using GatewayHost gateway = await StartAsync(backend, HealthCheckResult.Healthy("db up"));

        (HttpStatusCode status, string body) = await GetAsync(gateway, "/readyz");

        Assert.Equal(HttpStatusCode.OK, status);
        Assert.Equal("Healthy", body);
    }

    [Fact]
    public async Task Readyz_UserCheckUnhealthy_Returns503()
    {
        await using var backend = new ProxyBackend();
        await using GatewayHost gateway = await StartAsync(backend, HealthCheckResult.Unhealthy("db down"));

        (HttpStatusCode status, string body) = await GetAsync(gateway, "/readyz");

        Assert.Equal(HttpStatusCode.ServiceUnavailable, status);
        Assert.Equal("Unhealthy", body);
        HealthReport report = await gateway.Services.GetRequiredService<HealthCheckService>().CheckHealthAsync();
        Assert.Equal(HealthStatus.Healthy, report.Entries["tcp-proxy"].Status);
        Assert.Equal(HealthStatus.Unhealthy, report.Entries["user"].Status);
    }

    [Fact]
    public async Task Readyz_RouteChangeRefused_Returns503WithTheReason()
    {
        await using var backend = new ProxyBackend();
        await using GatewayHost gateway = await StartAsync(backend, HealthCheckResult.Healthy());

        gateway.Services.GetRequiredService<InMemoryTcpProxyConfigProvider>().Update([InMemoryRoutesTests.Route("r1", "nope")]);
        await Net.WaitUntilAsync(async () => (await GetAsync(gateway, "/readyz")).Status == HttpStatusCode.ServiceUnavailable, "/readyz turning 503");

        HealthReportEntry entry = (await gateway.Services.GetRequiredService<HealthCheckService>().CheckHealthAsync()).Entries["tcp-proxy"];
        Assert.Equal(HealthStatus.Unhealthy, entry.Status);
        var reasons = Assert.IsAssignableFrom<IReadOnlyList<string>>(entry.Data[TcpProxyHealthChecksBuilderExtensions.ReasonsKey]);
        string reason = Assert.Single(reasons);
        Assert.Contains("the last TcpProxy configuration change was refused", reason);
        Assert.Contains("cluster 'nope' is not defined", reason);
        Assert.Equal(reason, entry.Description);
    }

    /// <summary>A gateway with the route r1 in memory, the readiness check and a user check that returns <paramref name="user"/>.</summary>
    private static Task<GatewayHost> StartAsync(ProxyBackend backend, HealthCheckResult user) =>
        GatewayHost.StartAsync(
            ReloadConfig.Json(new Dictionary<string, string> { ["c1"] = backend.Address }, new Dictionary<string, string>()),
            services =>
            {
                services.AddTcpProxy().LoadFromMemory([InMemoryRoutesTests.Route("r1", "c1")]);
                services.AddHealthChecks().AddTcpProxyReadiness().AddCheck("user", () => user);
            },
            configureApp: app => app.MapHealthChecks("/readyz"));

    private static async Task<(HttpStatusCode Status, string Body)> GetAsync(GatewayHost gateway, string path)
    {
        using var http = new HttpClient { Timeout = Net.Timeout };
        using HttpResponseMessage response = await http.GetAsync(new Uri($"http://127.0.0.1:{gateway.HttpPort}{path}"));
        return (response.StatusCode, await response.Content.ReadAsStringAsync());
    }
}
