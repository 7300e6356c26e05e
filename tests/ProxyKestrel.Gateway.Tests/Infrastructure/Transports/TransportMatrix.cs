using ProxyKestrel.Gateway.Configuration;

namespace ProxyKestrel.Gateway.Tests.Infrastructure.Transports;

/// <summary>
/// Which TCP transports the gateway tests run on: <see cref="TcpProxyTransport.Sockets"/> everywhere,
/// <see cref="TcpProxyTransport.Epoll"/> on Linux only. When the test process's environment sets
/// <c>TcpProxy__Transport</c> (<see cref="GatewayHost.TransportVariable"/>), only that transport's test cases are
/// produced (for debugging one transport, or a benchmark run on one).
/// </summary>
internal static class TransportMatrix
{
    /// <summary>The trait every per-transport test case has (<c>dotnet test --filter Transport=Epoll</c>).</summary>
    public const string TraitName = "Transport";

    /// <summary>The transports of this run; <paramref name="error"/> says why none when the environment names no transport of the matrix.</summary>
    public static IReadOnlyList<TcpProxyTransport> Transports(out string? error)
    {
        TcpProxyTransport[] available = OperatingSystem.IsLinux() ? [TcpProxyTransport.Sockets, TcpProxyTransport.Epoll] : [TcpProxyTransport.Sockets];
        error = null;
        string? variable = Environment.GetEnvironmentVariable(GatewayHost.TransportVariable);
        if (string.IsNullOrWhiteSpace(variable))
        {
            return available;
        }

        foreach (TcpProxyTransport transport in available)
        {
            if (string.Equals(variable.Trim(), transport.ToString(), StringComparison.OrdinalIgnoreCase))
            {
                return [transport];
            }
        }

        error = $"{GatewayHost.TransportVariable}='{variable}' names no transport the tests run on here ({string.Join(", ", available)}); unset it to run them all.";
        return [];
    }

    /// <summary>A per-transport test case's display name: the test's own, then the transport, e.g. <c>... [Epoll]</c>.</summary>
    public static string DisplayName(string testDisplayName, TcpProxyTransport transport) => $"{testDisplayName} [{transport}]";
}
