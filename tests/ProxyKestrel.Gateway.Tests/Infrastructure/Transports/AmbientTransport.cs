using ProxyKestrel.Gateway.Configuration;

namespace ProxyKestrel.Gateway.Tests.Infrastructure.Transports;

/// <summary>
/// The TCP transport of the test case that is running: set by <see cref="TransportTestAssemblyRunner"/> around each
/// transport's test collection (so class and collection fixtures see it too), null for tests marked
/// <see cref="NotPerTransportAttribute"/>. It flows with the async context, so tests running in parallel on other
/// transports do not see it; the test process's environment is never changed.
/// </summary>
internal static class AmbientTransport
{
    private static readonly AsyncLocal<TcpProxyTransport?> Value = new();

    /// <summary>The running test case's transport; null outside a per-transport test case.</summary>
    public static TcpProxyTransport? Current
    {
        get => Value.Value;
        set => Value.Value = value;
    }

    /// <summary>
    /// The environment a gateway child process (samples/Gateway, samples/CodeRoutes, eng/demo.sh) needs to run on
    /// <see cref="Current"/>: <c>TcpProxy__Transport</c> (ASP.NET's environment configuration), or nothing when there
    /// is no ambient transport (the child then inherits the test process's environment as it is).
    /// </summary>
    public static IEnumerable<KeyValuePair<string, string>> ChildEnvironment() =>
        Current is { } transport ? [new(GatewayHost.TransportVariable, transport.ToString())] : [];
}
