using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Diagnostics.HealthChecks;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Options;
using ProxyKestrel.Gateway.Admin;
using ProxyKestrel.Gateway.Configuration;
using ProxyKestrel.Gateway.Tests.Infrastructure;
using Yarp.ReverseProxy.Configuration;
using Yarp.ReverseProxy.Configuration.ClusterValidators;

namespace ProxyKestrel.Gateway.Tests.Configuration;

/// <summary>Calling the registration methods again adds no service twice (as YARP's builder extensions).</summary>
public class TcpProxyRegistrationTests
{
    [Fact]
    public void AddTcpProxy_CalledSeveralTimes_RegistersEachServiceOnce()
    {
        IConfiguration configuration = new ConfigurationBuilder().AddInMemoryCollection().Build();
        var services = new ServiceCollection();

        services.AddTcpProxy(configuration.GetSection("TcpProxy"));
        services.AddTcpProxy(configuration.GetSection("TcpProxy"));
        services.AddTcpProxy().LoadFromConfig(configuration.GetSection("TcpProxy"));
        services.AddTcpProxyReadiness();
        services.AddTcpProxyReadiness();

        Assert.Equal(2, services.Count(d => d.ServiceType == typeof(IHostedService)));
        Assert.Single(services, d => d.ServiceType == typeof(IClusterValidator));
        Assert.Single(services, d => d.ServiceType == typeof(IConfigChangeListener));
        Assert.Single(services, d => d.ServiceType == typeof(ITcpProxyEndpoints));
        Assert.Single(services, d => d.ServiceType == typeof(ITcpProxyConfigProvider));
        Assert.Single(services, d => d.ServiceType == typeof(ITcpProxyReadiness));
        Assert.Single(services, d => d.ServiceType == typeof(ProxyKestrel.Gateway.Listeners.TcpProxyListenerManager));
    }

    [Fact]
    public void LoadFromConfig_OtherSection_AddsASecondProvider()
    {
        IConfiguration configuration = new ConfigurationBuilder().AddInMemoryCollection().Build();
        var services = new ServiceCollection();

        services.AddTcpProxy().LoadFromConfig(configuration.GetSection("TcpProxy")).LoadFromConfig(configuration.GetSection("MoreTcpRoutes"));

        Assert.Equal(2, services.Count(d => d.ServiceType == typeof(ITcpProxyConfigProvider)));
    }

    [Fact]
    public void AddTcpProxyReadinessHealthCheck_CalledTwice_OneRegistration()
    {
        var services = new ServiceCollection();

        services.AddHealthChecks().AddTcpProxyReadiness().AddTcpProxyReadiness();

        HealthCheckServiceOptions options = services.BuildServiceProvider().GetRequiredService<IOptions<HealthCheckServiceOptions>>().Value;
        Assert.Equal("tcp-proxy", Assert.Single(options.Registrations).Name);
        Assert.Single(services, d => d.ServiceType == typeof(ITcpProxyReadiness));
    }

    [Fact]
    public async Task AddTcpProxy_CalledAgainByTheApplication_EachRouteBoundOnce()
    {
        await using var backend = new ProxyBackend();
        string json = ReloadConfig.Json(
            new Dictionary<string, string> { ["c1"] = backend.Address },
            new Dictionary<string, string> { ["r1"] = ReloadConfig.Route("c1") });

        // GatewayHost calls AddTcpProxy(section) already.
        await using GatewayHost gateway = await GatewayHost.StartAsync(json, services =>
        {
            var section = (ConfigurationTcpProxyConfigProvider)services.Single(d => d.ServiceType == typeof(ITcpProxyConfigProvider)).ImplementationInstance!;
            services.AddTcpProxy(section.Section);
            services.AddTcpProxy();
        });

        Assert.Single(gateway.Services.GetRequiredService<ITcpProxyEndpoints>().BoundEndPoints);
        using var client = await Net.ConnectAsync(gateway.EndPointOf("r1"), "127.0.0.149");
        await Net.AssertEchoAsync(client, "once");
    }
}
