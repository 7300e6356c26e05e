using Microsoft.AspNetCore.Connections;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Server.Kestrel.Transport.Sockets;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace ProxyKestrel.Gateway.Transports.Sockets;

/// <summary>
/// The socket transport of the TCP routes' listeners: a <see cref="SocketTransportFactory"/> of its own, apart from
/// the one Kestrel's HTTP endpoints use, whose connections take their buffers from <see cref="RelayMemoryPool"/>
/// (64 KiB blocks) instead of Kestrel's 4 KiB pool. The transport's memory pool is only settable through dependency
/// injection (<c>UseSockets</c> copies the container's <see cref="IMemoryPoolFactory{T}"/> into the options), so the
/// options are built in a small container of their own, which leaves the application's container untouched.
/// </summary>
internal static class RelayTransport
{
    public static IConnectionListenerFactory CreateListenerFactory(ILoggerFactory loggerFactory, TimeProvider timeProvider)
    {
        var capture = new ServiceCapturingWebHostBuilder();
        capture.UseSockets();
        capture.Services.AddSingleton<IMemoryPoolFactory<byte>>(new RelayMemoryPoolFactory(timeProvider));
        using ServiceProvider services = capture.Services.BuildServiceProvider();
        SocketTransportOptions options = services.GetRequiredService<IOptions<SocketTransportOptions>>().Value;
        return new SocketTransportFactory(Options.Create(options), loggerFactory);
    }

    /// <summary>Runs a web host builder's <c>ConfigureServices</c> callbacks into a plain service collection.</summary>
    private sealed class ServiceCapturingWebHostBuilder : IWebHostBuilder
    {
        private readonly Dictionary<string, string?> _settings = [];

        public ServiceCollection Services { get; } = new();

#pragma warning disable ASPDEPR008 // IWebHost: a member of the interface, never called.
        public IWebHost Build() => throw new NotSupportedException();
#pragma warning restore ASPDEPR008

        public IWebHostBuilder ConfigureAppConfiguration(Action<WebHostBuilderContext, IConfigurationBuilder> configureDelegate) => this;

        public IWebHostBuilder ConfigureServices(Action<IServiceCollection> configureServices)
        {
            configureServices(Services);
            return this;
        }

        public IWebHostBuilder ConfigureServices(Action<WebHostBuilderContext, IServiceCollection> configureServices)
        {
            configureServices(new WebHostBuilderContext { Configuration = new ConfigurationBuilder().Build() }, Services);
            return this;
        }

        public string? GetSetting(string key) => _settings.GetValueOrDefault(key);

        public IWebHostBuilder UseSetting(string key, string? value)
        {
            _settings[key] = value;
            return this;
        }
    }
}
