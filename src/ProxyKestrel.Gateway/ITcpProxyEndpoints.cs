using System.Net;

namespace ProxyKestrel.Gateway;

/// <summary>The endpoints the TCP routes are bound to (with the real port when <c>Listen</c> asked for port 0).</summary>
public interface ITcpProxyEndpoints
{
    /// <summary>Each bound endpoint with its route id.</summary>
    IReadOnlyList<(string RouteId, EndPoint EndPoint)> BoundEndPoints { get; }
}
