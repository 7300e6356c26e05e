using System.Diagnostics.Metrics;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Options;
using ProxyKestrel.AspNetCore;

namespace Microsoft.Extensions.DependencyInjection;

/// <summary>Registers the PROXY protocol middleware's options, validation and metrics.</summary>
public static class ProxyProtocolServiceCollectionExtensions
{
    /// <summary>
    /// Binds <see cref="ProxyProtocolOptions"/> from the <c>ProxyProtocol</c> configuration section (then
    /// <paramref name="configure"/>), and <see cref="ProxyProtocolKestrelOptions"/> from the same section, validates
    /// them on start with every error listed, and prepares every Kestrel endpoint so that <c>app.UseProxyProtocol()</c>
    /// can switch header reading on.
    /// </summary>
    public static IServiceCollection AddProxyProtocol(this IServiceCollection services, Action<ProxyProtocolOptions>? configure = null)
    {
        ArgumentNullException.ThrowIfNull(services);
        if (!services.Any(d => d.ServiceType == typeof(ProxyProtocolMarker)))
        {
            services.AddSingleton<ProxyProtocolMarker>();
            services.AddSingleton<ProxyProtocolBindingErrors>();
            services.AddSingleton<ProxyProtocolActivation>();
            services.TryAddSingleton(sp => new ProxyProtocolMetrics(sp.GetService<IMeterFactory>()));
            services.AddOptions<ProxyProtocolOptions>().ValidateOnStart();
            services.AddSingleton<IConfigureOptions<ProxyProtocolOptions>>(sp =>
                new ConfigureFromConfiguration(sp.GetService<IConfiguration>(), sp.GetRequiredService<ProxyProtocolBindingErrors>()));
            services.AddSingleton<IConfigureOptions<ProxyProtocolKestrelOptions>>(sp =>
                new ConfigureKestrelFromConfiguration(sp.GetService<IConfiguration>()));
            services.AddSingleton<IValidateOptions<ProxyProtocolOptions>>(sp =>
                new ProxyProtocolOptionsValidator(sp.GetRequiredService<ProxyProtocolBindingErrors>()));

            // First, so that endpoints created in ConfigureKestrel callbacks get the middleware ahead of UseHttps.
            services.Insert(0, ServiceDescriptor.Singleton<IConfigureOptions<KestrelServerOptions>, ProxyProtocolKestrelSetup>());
        }

        if (configure is not null)
        {
            services.Configure(configure);
        }

        return services;
    }

    private sealed class ConfigureKestrelFromConfiguration(IConfiguration? configuration) : IConfigureOptions<ProxyProtocolKestrelOptions>
    {
        public void Configure(ProxyProtocolKestrelOptions options)
        {
            if (configuration is not null)
            {
                ProxyProtocolOptionsBinder.Bind(configuration.GetSection(ProxyProtocolOptions.SectionName), options);
            }
        }
    }

    private sealed class ConfigureFromConfiguration(IConfiguration? configuration, ProxyProtocolBindingErrors bindingErrors)
        : IConfigureNamedOptions<ProxyProtocolOptions>
    {
        public void Configure(ProxyProtocolOptions options) => Configure(Options.Options.DefaultName, options);

        public void Configure(string? name, ProxyProtocolOptions options)
        {
            if (configuration is null)
            {
                return;
            }

            var errors = new List<string>();
            ProxyProtocolOptionsBinder.Bind(configuration.GetSection(ProxyProtocolOptions.SectionName), options, errors);
            bindingErrors.Set(name ?? Options.Options.DefaultName, errors);
        }
    }
}
