using System.Net;

namespace ProxyKestrel.Gateway.Udp;

/// <summary>The endpoints the UDP routes receive on (with the real port when <c>Listen</c> asked for port 0).</summary>
public interface IUdpProxyEndpoints
{
    /// <summary>Each bound endpoint with its route id.</summary>
    IReadOnlyList<(string RouteId, EndPoint EndPoint)> BoundEndPoints { get; }
}
