using System.Net;
using Microsoft.Extensions.Logging;

namespace ProxyKestrel.Gateway.Http;

/// <summary>Log messages of HTTP forwarding with a PROXY header. Event ids are stable (300-399).</summary>
internal static partial class ProxyProtocolHttpLog
{
    [LoggerMessage(EventId = 300, EventName = "HttpClientCreated", Level = LogLevel.Debug,
        Message = "Cluster {ClusterId}: HTTP client sending PROXY protocol {Version} created (one backend connection pool per inbound connection).")]
    public static partial void ClientCreated(ILogger logger, string clusterId, ProxyProtocolVersion version);

    [LoggerMessage(EventId = 301, EventName = "HttpBackendConnected", Level = LogLevel.Debug,
        Message = "Cluster {ClusterId}: backend connection to {Destination} for inbound connection {ConnectionId}: its PROXY header (client {Client}) goes out with the first request bytes.")]
    public static partial void BackendConnected(ILogger logger, string clusterId, EndPoint? destination, string connectionId, EndPoint? client);

    [LoggerMessage(EventId = 302, EventName = "HttpNoInboundContext", Level = LogLevel.Warning,
        Message = "Cluster {ClusterId}: a forwarded request carried no inbound HttpContext (AddProxyProtocolForwarding's transform did not run); its backend connection gets a LOCAL/UNKNOWN header.")]
    public static partial void NoInboundContext(ILogger logger, string clusterId);
}
