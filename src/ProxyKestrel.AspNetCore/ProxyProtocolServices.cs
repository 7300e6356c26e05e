using ProxyKestrel.ProxyProtocol;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;

namespace ProxyKestrel.AspNetCore;

/// <summary>Resolves options, settings and metrics whether or not <c>AddProxyProtocol()</c> was called.</summary>
internal static class ProxyProtocolServices
{
    private static readonly Lazy<ProxyProtocolMetrics> FallbackMetrics = new(() => new ProxyProtocolMetrics(null));

    /// <summary>
    /// The application's options (from <c>AddProxyProtocol</c>, or bound from the <c>ProxyProtocol</c> section of
    /// <see cref="IConfiguration"/>), then <paramref name="configure"/>; validated, with every error in the exception.
    /// </summary>
    public static ProxyProtocolReceiver ResolveSettings(IServiceProvider services, Action<ProxyProtocolOptions>? configure)
    {
        ProxyProtocolOptions options;
        if (services.GetService<ProxyProtocolMarker>() is not null)
        {
            // Validation (binding errors included) runs here and throws OptionsValidationException.
            options = services.GetRequiredService<IOptions<ProxyProtocolOptions>>().Value.Clone();
        }
        else
        {
            options = new ProxyProtocolOptions();
            if (services.GetService<IConfiguration>() is { } configuration)
            {
                var errors = new List<string>();
                ProxyProtocolOptionsBinder.Bind(configuration.GetSection(ProxyProtocolOptions.SectionName), options, errors);
                if (errors.Count > 0)
                {
                    ProxyProtocolOptionsValidation.Validate(options, ProxyProtocolOptions.SectionName, errors);
                    throw new OptionsValidationException(ProxyProtocolOptions.SectionName, typeof(ProxyProtocolOptions), errors);
                }
            }
        }

        configure?.Invoke(options);
        var problems = new List<string>();
        if (!ProxyProtocolReceiver.TryCreate(options, ProxyProtocolOptions.SectionName, problems, out ProxyProtocolReceiver? receiver))
        {
            throw new OptionsValidationException(ProxyProtocolOptions.SectionName, typeof(ProxyProtocolOptions), problems);
        }

        return receiver!;
    }

    /// <summary>
    /// The Kestrel-only options: from <c>AddProxyProtocol</c> (the <c>ProxyProtocol</c> section, then
    /// <c>Configure&lt;ProxyProtocolKestrelOptions&gt;</c>), or else code settings with the section bound over them.
    /// A bad value in the section is reported with the other options' errors.
    /// </summary>
    public static ProxyProtocolKestrelOptions ResolveKestrelOptions(IServiceProvider services)
    {
        ProxyProtocolKestrelOptions configured = services.GetService<IOptions<ProxyProtocolKestrelOptions>>()?.Value ?? new ProxyProtocolKestrelOptions();
        if (services.GetService<ProxyProtocolMarker>() is not null)
        {
            return configured;
        }

        var options = new ProxyProtocolKestrelOptions { AllowUncheckedHttp3 = configured.AllowUncheckedHttp3 };
        if (services.GetService<IConfiguration>() is { } configuration)
        {
            ProxyProtocolOptionsBinder.Bind(configuration.GetSection(ProxyProtocolOptions.SectionName), options);
        }

        return options;
    }

    public static ProxyProtocolMetrics GetMetrics(IServiceProvider services) =>
        services.GetService<ProxyProtocolMetrics>() ?? FallbackMetrics.Value;
}

/// <summary>Registered by <c>AddProxyProtocol()</c>.</summary>
internal sealed class ProxyProtocolMarker;
