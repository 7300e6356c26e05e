namespace ProxyKestrel.Gateway.Configuration;

/// <summary>How the TCP routes accept and relay connections (<c>TcpProxy:Transport</c>).</summary>
public enum TcpProxyTransport
{
    /// <summary><see cref="Epoll"/> on Linux, <see cref="Sockets"/> elsewhere.</summary>
    Auto,

    /// <summary>Kestrel's socket transport and <c>System.Net.Sockets</c>: portable, every operating system.</summary>
    Sockets,

    /// <summary>
    /// Linux only: one epoll event loop per core, each with its own listening socket (<c>SO_REUSEPORT</c>), owning the
    /// client and backend sockets of its connections and calling the kernel directly.
    /// </summary>
    Epoll,
}
