using System.Net;
using Microsoft.Extensions.Logging;

namespace ProxyKestrel.Gateway.Udp;

/// <summary>Log messages of the UDP routes (event ids 167–179).</summary>
internal static partial class UdpProxyLog
{
    [LoggerMessage(EventId = 170, Level = LogLevel.Information, Message = "UDP route {RouteId} receiving on {EndPoint}, cluster {ClusterId}.")]
    public static partial void RouteListening(ILogger logger, string routeId, EndPoint endPoint, string clusterId);

    [LoggerMessage(EventId = 171, Level = LogLevel.Information, Message = "UDP route {RouteId} stopped receiving on {EndPoint}.")]
    public static partial void RouteStopped(ILogger logger, string routeId, EndPoint endPoint);

    [LoggerMessage(EventId = 172, Level = LogLevel.Information, Message = "UDP route {RouteId}: datagram from {Sender} dropped: {Reason} ({Detail}).")]
    public static partial void HeaderRejected(ILogger logger, string routeId, EndPoint sender, string reason, string detail);

    [LoggerMessage(EventId = 173, Level = LogLevel.Debug, Message = "UDP route {RouteId}: datagram from {Sender} dropped: {Reason}.")]
    public static partial void DatagramDropped(ILogger logger, string routeId, EndPoint sender, string reason);

    [LoggerMessage(EventId = 174, Level = LogLevel.Warning, Message = "UDP route {RouteId}: destination {DestinationId} ({Address}) of cluster {ClusterId} cannot be used: {Reason}.")]
    public static partial void DestinationUnreachable(ILogger logger, string routeId, string destinationId, string address, string clusterId, string reason);

    [LoggerMessage(EventId = 175, Level = LogLevel.Error, Message = "The UdpProxy configuration change is invalid and was not applied; the running routes stay:{NewLine}{Errors}")]
    public static partial void ConfigRejected(ILogger logger, string newLine, string errors);

    [LoggerMessage(EventId = 176, Level = LogLevel.Information, Message = "UDP routes draining: {Sessions} sessions may go on for up to {DrainTimeout}; new clients are refused.")]
    public static partial void Draining(ILogger logger, int sessions, TimeSpan drainTimeout);

    [LoggerMessage(EventId = 177, Level = LogLevel.Error, Message = "UDP route {RouteId}: cannot receive on {EndPoint}: {Reason}.")]
    public static partial void ReceiveFailed(ILogger logger, string routeId, EndPoint endPoint, string reason);

    [LoggerMessage(EventId = 179, Level = LogLevel.Error, Message = "UDP route {RouteId}: handling a datagram failed; it was dropped and the route goes on.")]
    public static partial void DatagramFailed(ILogger logger, string routeId, Exception exception);

    [LoggerMessage(EventId = 169, Level = LogLevel.Error, Message = "UDP route {RouteId}: cluster {ClusterId} cannot serve UDP: {Reason}; new clients are dropped.")]
    public static partial void ClusterUnusable(ILogger logger, string routeId, string clusterId, string reason);

    [LoggerMessage(EventId = 168, Level = LogLevel.Critical, Message = "A UDP epoll loop stopped: epoll_wait failed: {Reason}.")]
    public static partial void LoopFailed(ILogger logger, string reason);

    [LoggerMessage(EventId = 167, Level = LogLevel.Error, Message = "A UDP epoll loop's handler failed; the loop goes on.")]
    public static partial void LoopCommandFailed(ILogger logger, Exception exception);
}
