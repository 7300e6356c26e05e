using System.Net;

using ProxyKestrel.Gateway.Routing;

namespace ProxyKestrel.Gateway.Transports;

/// <summary>One bound endpoint of a TCP route and the connections it accepted.</summary>
internal interface ITcpRouteListener : IAsyncDisposable
{
    /// <summary>The bound endpoint (with the port the system chose for port 0).</summary>
    EndPoint EndPoint { get; }

    /// <summary>The routes new connections choose from; replaced by a reload, connections already open keep theirs.</summary>
    TcpRouteTable Routes { get; set; }

    /// <summary>Stops accepting; connections already accepted go on.</summary>
    Task UnbindAsync();

    /// <summary>Completes once every connection this listener accepted has ended (call after <see cref="UnbindAsync"/>).</summary>
    Task WhenConnectionsEndedAsync();

    /// <summary>Closes every open connection (the end of a drain that timed out); they end with the result "aborted".</summary>
    void AbortConnections();
}
