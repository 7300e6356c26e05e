using System.Net;
using Microsoft.Extensions.Logging;

namespace ProxyKestrel.AspNetCore;

/// <summary>Log messages of the middleware. Event ids are stable: alerts and dashboards may rely on them.</summary>
internal static partial class ProxyProtocolLog
{
    [LoggerMessage(EventId = 1, EventName = "HeaderAccepted", Level = LogLevel.Debug,
        Message = "PROXY v{Version} header accepted from {ProxyEndPoint} ({ConnectionId}): client {ClientEndPoint}, destination {DestinationEndPoint}.")]
    public static partial void HeaderAccepted(ILogger logger, string connectionId, int version, EndPoint? proxyEndPoint, EndPoint? clientEndPoint, EndPoint? destinationEndPoint);

    [LoggerMessage(EventId = 2, EventName = "HeaderRejected", Level = LogLevel.Warning,
        Message = "PROXY header from {ProxyEndPoint} ({ConnectionId}) rejected: {Reason}. The connection was closed.")]
    public static partial void HeaderRejected(ILogger logger, string connectionId, EndPoint? proxyEndPoint, string reason);

    [LoggerMessage(EventId = 3, EventName = "HeaderTimeout", Level = LogLevel.Warning,
        Message = "No complete PROXY header from {ProxyEndPoint} ({ConnectionId}) within {Timeout}; {BytesReceived} bytes received. The connection was closed.")]
    public static partial void HeaderTimeout(ILogger logger, string connectionId, EndPoint? proxyEndPoint, TimeSpan timeout, long bytesReceived);

    [LoggerMessage(EventId = 4, EventName = "UntrustedPeerRejected", Level = LogLevel.Warning,
        Message = "Connection {ConnectionId} from {RemoteEndPoint}, which is not in ProxyProtocol:TrustedNetworks, was closed.")]
    public static partial void UntrustedPeerRejected(ILogger logger, string connectionId, EndPoint? remoteEndPoint);

    [LoggerMessage(EventId = 5, EventName = "UntrustedPeerPassthrough", Level = LogLevel.Debug,
        Message = "Connection {ConnectionId} from {RemoteEndPoint} is not from a trusted network: no PROXY header is read.")]
    public static partial void UntrustedPeerPassthrough(ILogger logger, string connectionId, EndPoint? remoteEndPoint);

    [LoggerMessage(EventId = 6, EventName = "ClosedBeforeHeader", Level = LogLevel.Information,
        Message = "Connection {ConnectionId} from {ProxyEndPoint} closed after {BytesReceived} bytes, before a complete PROXY header.")]
    public static partial void ClosedBeforeHeader(ILogger logger, string connectionId, EndPoint? proxyEndPoint, long bytesReceived);

    [LoggerMessage(EventId = 7, EventName = "NoHeaderOptional", Level = LogLevel.Debug,
        Message = "Connection {ConnectionId} from {ProxyEndPoint} sent no PROXY header (Mode is Optional): real endpoints kept.")]
    public static partial void NoHeaderOptional(ILogger logger, string connectionId, EndPoint? proxyEndPoint);

    [LoggerMessage(EventId = 8, EventName = "Http3Unchecked", Level = LogLevel.Warning,
        Message = "Kestrel endpoint {Endpoint} has HTTP/3 in its Protocols ({Protocols}) and ProxyProtocol:AllowUncheckedHttp3 is true: its HTTP/3 (QUIC) connections are served without a PROXY header and without the TrustedNetworks check.")]
    public static partial void Http3Unchecked(ILogger logger, string endpoint, Microsoft.AspNetCore.Server.Kestrel.Core.HttpProtocols protocols);
}
