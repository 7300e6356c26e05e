namespace Microsoft.Extensions.DependencyInjection;

/// <summary>
/// Returned by <c>AddTcpProxy()</c> to add route providers (<c>LoadFromConfig</c>, <c>LoadFromMemory</c>), as YARP's
/// <c>IReverseProxyBuilder</c> is for HTTP routes.
/// </summary>
public interface ITcpProxyBuilder
{
    /// <summary>The application's services.</summary>
    IServiceCollection Services { get; }
}
