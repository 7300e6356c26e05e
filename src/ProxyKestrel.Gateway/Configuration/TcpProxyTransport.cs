namespace ProxyKestrel.Gateway.Configuration;

/// <summary>How the TCP routes accept and relay connections (<c>TcpProxy:Transport</c>).</summary>
public enum TcpProxyTransport
{
    /// <summary><see cref="Epoll"/> on Linux, <see cref="Sockets"/> elsewhere.</summary>
    Auto,

    /// <summary>Kestrel's socket transport and <c>System.Net.Sockets</c>: portable, every operating system.</summary>
    Sockets,

    /// <summary>
    /// Linux only: one epoll event loop per core, all waiting on each listening socket (<c>EPOLLEXCLUSIVE</c>), each
    /// owning the client and backend sockets of the connections it accepted and calling the kernel directly.
    /// </summary>
    Epoll,
}
