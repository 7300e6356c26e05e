using System.Globalization;
using System.Net;
using Microsoft.Extensions.Logging;
using ProxyKestrel.Gateway.Lifecycle;

namespace ProxyKestrel.Gateway.Udp;

/// <summary>
/// One access-log entry per ended UDP session, in the category and shape of the TCP routes' (HAProxy's
/// <c>option tcplog</c>): <c>client:port [accept date] route cluster/destination Tw/Tc/Tt bytes_read termination
/// active/route/cluster/destination/retries 0/0</c>, event 178 <c>UdpAccessLog</c>. Tw and Tc are 0 (a datagram waits
/// for nothing), Tt is the session's lifetime, bytes_read what the backend sent back.
/// </summary>
internal sealed partial class UdpAccessLog
{
    private readonly ILogger _logger;

    public UdpAccessLog(ILoggerFactory loggers) => _logger = loggers.CreateLogger(TcpAccessLog.CategoryName);

    public bool IsEnabled => _logger.IsEnabled(LogLevel.Information);

    public void Write(IPEndPoint client, DateTimeOffset accepted, string routeId, string clusterId, string destinationId, long totalMs, long bytesDown, string termination, UdpSessionCounts.Snapshot counts)
    {
        if (!_logger.IsEnabled(LogLevel.Information))
        {
            return;
        }

        IPAddress address = client.Address.IsIPv4MappedToIPv6 ? client.Address.MapToIPv4() : client.Address;
        string clientIp = address.ToString();
        string acceptDate = accepted.ToString("dd/MMM/yyyy:HH:mm:ss.fff", CultureInfo.InvariantCulture);
        Entry(
            _logger,
            clientIp,
            client.Port,
            acceptDate,
            routeId,
            clusterId,
            destinationId,
            totalMs,
            bytesDown,
            termination,
            counts.Active,
            counts.Route,
            counts.Cluster,
            counts.Destination);
    }

    [LoggerMessage(EventId = 178, EventName = "UdpAccessLog", Level = LogLevel.Information,
        Message = "{ClientIp}:{ClientPort} [{AcceptDate}] {RouteId} {ClusterId}/{DestinationId} 0/0/{TotalMs} {BytesRead} {TerminationState} {ActiveSessions}/{RouteSessions}/{ClusterSessions}/{DestinationSessions}/0 0/0")]
    private static partial void Entry(ILogger logger, string clientIp, int clientPort, string acceptDate, string routeId, string clusterId, string destinationId, long totalMs, long bytesRead, string terminationState, int activeSessions, int routeSessions, int clusterSessions, int destinationSessions);
}
