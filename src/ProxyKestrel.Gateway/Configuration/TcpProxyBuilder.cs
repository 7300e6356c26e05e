namespace Microsoft.Extensions.DependencyInjection;

/// <inheritdoc/>
internal sealed class TcpProxyBuilder(IServiceCollection services) : ITcpProxyBuilder
{
    public IServiceCollection Services { get; } = services;
}
