using System.Net;
using Microsoft.Extensions.Logging;

namespace ProxyKestrel.Gateway.Diagnostics;

/// <summary>Log messages of the TCP gateway. Event ids are stable.</summary>
internal static partial class TcpProxyLog
{
    [LoggerMessage(EventId = 100, EventName = "RouteListening", Level = LogLevel.Information,
        Message = "TCP route {RouteId} listening on {EndPoint} -> cluster {ClusterId}.")]
    public static partial void RouteListening(ILogger logger, string routeId, EndPoint endPoint, string clusterId);

    [LoggerMessage(EventId = 101, EventName = "RouteStopped", Level = LogLevel.Information,
        Message = "TCP route {RouteId} stopped listening on {EndPoint}.")]
    public static partial void RouteStopped(ILogger logger, string routeId, EndPoint endPoint);

    [LoggerMessage(EventId = 102, EventName = "ClientNotAllowed", Level = LogLevel.Warning,
        Message = "Connection from {Client} on route {RouteId} closed: not in AllowedClients.")]
    public static partial void ClientNotAllowed(ILogger logger, EndPoint? client, string routeId);

    [LoggerMessage(EventId = 114, EventName = "NoRoute", Level = LogLevel.Warning,
        Message = "Connection from {Client} to {EndPoint} closed: no route matches (protocol {Protocol}, SNI {ServerName}, Host {Host}) and the listener has no route without Match.")]
    public static partial void NoRoute(ILogger logger, EndPoint? client, EndPoint? endPoint, string protocol, string? serverName, string? host);

    [LoggerMessage(EventId = 103, EventName = "MaxConnectionsReached", Level = LogLevel.Warning,
        Message = "Connection from {Client} on route {RouteId} closed: MaxConnections ({MaxConnections}) reached.")]
    public static partial void MaxConnectionsReached(ILogger logger, EndPoint? client, string routeId, int maxConnections);

    [LoggerMessage(EventId = 104, EventName = "HeaderRejected", Level = LogLevel.Warning,
        Message = "PROXY header from {Peer} on route {RouteId} rejected: {Reason}. The connection was closed.")]
    public static partial void HeaderRejected(ILogger logger, EndPoint? peer, string routeId, string reason);

    [LoggerMessage(EventId = 105, EventName = "DestinationConnectFailed", Level = LogLevel.Warning,
        Message = "Route {RouteId}: connecting to destination {DestinationId} ({Address}) of cluster {ClusterId} failed: {Reason}.")]
    public static partial void DestinationConnectFailed(ILogger logger, string routeId, string destinationId, string address, string clusterId, string reason);

    [LoggerMessage(EventId = 106, EventName = "NoDestination", Level = LogLevel.Warning,
        Message = "Route {RouteId}: no destination of cluster {ClusterId} could be reached for {Client}; the client was closed.")]
    public static partial void NoDestination(ILogger logger, string routeId, string clusterId, EndPoint? client);

    [LoggerMessage(EventId = 107, EventName = "ConnectionRelayed", Level = LogLevel.Debug,
        Message = "Route {RouteId}: {Client} -> {DestinationId}: {BytesUp} bytes up, {BytesDown} bytes down, {Outcome}.")]
    public static partial void ConnectionRelayed(ILogger logger, string routeId, EndPoint? client, string destinationId, long bytesUp, long bytesDown, string outcome);

    [LoggerMessage(EventId = 108, EventName = "ConfigRejected", Level = LogLevel.Error,
        Message = "The TcpProxy configuration change was refused; the previous configuration stays. {Errors}")]
    public static partial void ConfigRejected(ILogger logger, string errors);

    [LoggerMessage(EventId = 109, EventName = "ConfigApplied", Level = LogLevel.Information,
        Message = "TcpProxy configuration applied: {RouteCount} route(s).")]
    public static partial void ConfigApplied(ILogger logger, int routeCount);

    [LoggerMessage(EventId = 110, EventName = "Draining", Level = LogLevel.Information,
        Message = "Stopped accepting; waiting up to {DrainTimeout} for {Open} open connection(s).")]
    public static partial void Draining(ILogger logger, TimeSpan drainTimeout, int open);

    [LoggerMessage(EventId = 111, EventName = "TransportSelected", Level = LogLevel.Information,
        Message = "TCP routes use the {Transport} transport (TcpProxy:Transport = {Configured}).")]
    public static partial void TransportSelected(ILogger logger, string transport, ProxyKestrel.Gateway.Configuration.TcpProxyTransport configured);

    [LoggerMessage(EventId = 112, EventName = "ConnectionFailed", Level = LogLevel.Error,
        Message = "Route {RouteId}: the connection of {Client} failed and was closed.")]
    public static partial void ConnectionFailed(ILogger logger, string routeId, EndPoint? client, Exception exception);
}
