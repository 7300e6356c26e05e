using System.Net;
using ProxyKestrel.Gateway.Configuration;

namespace ProxyKestrel.Gateway.Routing;

/// <summary>What a connection showed before its route was chosen (<see cref="TcpRouteTable.Select"/>); null: not seen.</summary>
internal struct ClientFacts
{
    /// <summary>The client's address: the upstream PROXY header's when one was read, else the peer's.</summary>
    public IPAddress? Client;

    /// <summary>What the first bytes say the client speaks; null until enough bytes arrived.</summary>
    public TcpClientProtocol? Protocol;

    /// <summary>The ClientHello's server name (SNI).</summary>
    public string? ServerName;

    /// <summary>The application protocols the ClientHello offers (ALPN).</summary>
    public string[]? Alpn;

    /// <summary>The first HTTP/1.x request's host, without its port.</summary>
    public string? Host;
}
