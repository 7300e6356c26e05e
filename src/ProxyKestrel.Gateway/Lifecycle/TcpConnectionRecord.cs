using System.Collections;
using System.Globalization;
using System.Net;
using System.Net.Sockets;

namespace ProxyKestrel.Gateway.Lifecycle;

/// <summary>
/// What the lifecycle learnt about one connection, filled step by step, and at its end the access-log entry: the
/// structured state (OpenTelemetry log attributes, <see cref="AttributeNames"/>) and, formatted, a line in the field
/// order of HAProxy's <c>option tcplog</c>, so HAProxy log parsers read it:
/// <c>client_ip:client_port [accept_date] route cluster/destination Tw/Tc/Tt bytes_read termination_state
/// actconn/feconn/beconn/srv_conn/retries srv_queue/backend_queue</c>.
/// </summary>
internal sealed class TcpConnectionRecord : IReadOnlyList<KeyValuePair<string, object?>>
{
    /// <summary>The destination of a connection that reached none (HAProxy's word).</summary>
    public const string NoServer = "<NOSRV>";

    /// <summary>The attribute names, in the order of <see cref="this[int]"/>.</summary>
    public static readonly string[] AttributeNames =
    [
        "client.address",
        "client.port",
        "proxykestrel.accept_date",
        "proxykestrel.route",
        "proxykestrel.cluster",
        "proxykestrel.destination",
        "proxykestrel.time.wait_ms",
        "proxykestrel.time.connect_ms",
        "proxykestrel.time.total_ms",
        "proxykestrel.bytes.to_client",
        "proxykestrel.bytes.to_server",
        "proxykestrel.termination_state",
        "proxykestrel.result",
        "proxykestrel.connections.gateway",
        "proxykestrel.connections.route",
        "proxykestrel.connections.cluster",
        "proxykestrel.connections.destination",
        "proxykestrel.retries",
        "proxykestrel.proxy_protocol.version",
        "proxykestrel.upstream_proxy.address",
        "proxykestrel.upstream_proxy.port",
    ];

    public TcpConnectionRecord(string routeId, string clusterId, EndPoint? client, DateTimeOffset acceptDate, long acceptedAt)
    {
        RouteId = routeId;
        ClusterId = clusterId;
        Client = client;
        AcceptDate = acceptDate;
        AcceptedAt = acceptedAt;
        StepStartedAt = acceptedAt;
    }

    public string RouteId { get; set; }

    public string ClusterId { get; set; }

    /// <summary>The client: the peer, or the one an upstream PROXY header named.</summary>
    public EndPoint? Client { get; set; }

    /// <summary>The peer that sent an upstream PROXY header naming another client; null otherwise.</summary>
    public EndPoint? UpstreamProxy { get; set; }

    public DateTimeOffset AcceptDate { get; }

    /// <summary>The timestamp of the accept (the gateway's <see cref="TimeProvider"/>).</summary>
    public long AcceptedAt { get; }

    /// <summary>The destination relayed to, or the last one tried; <see cref="NoServer"/> before any.</summary>
    public string Destination { get; set; } = NoServer;

    /// <summary>When the lifecycle's current step started (the base of its deadline): the accept, then each wait's end.</summary>
    public long StepStartedAt { get; set; }

    /// <summary>HAProxy's <c>Tw</c>: time queued before connecting (the gateway has no queue: 0), -1 if never reached.</summary>
    public long WaitMs { get; set; } = -1;

    /// <summary>HAProxy's <c>Tc</c>: from the first connection attempt to the established one (failover included), -1 if none.</summary>
    public long ConnectMs { get; set; } = -1;

    /// <summary>HAProxy's <c>Tt</c>: from the accept to the close.</summary>
    public long TotalMs { get; set; }

    public long BytesUp { get; set; }

    /// <summary>HAProxy's <c>bytes_read</c>: bytes sent to the client.</summary>
    public long BytesDown { get; set; }

    public TcpConnectionEnd End { get; set; }

    public TcpConnectionPhase Phase { get; set; }

    public int ActiveConnections { get; set; }

    public int RouteConnections { get; set; }

    public int ClusterConnections { get; set; }

    public int DestinationConnections { get; set; }

    /// <summary>Connection attempts after the first (failover).</summary>
    public int Retries { get; set; }

    /// <summary>The PROXY protocol version sent to the backend ("v1", "v2"), or "none".</summary>
    public string ProxyVersion { get; set; } = "none";

    public string TerminationState => End.TerminationState(Phase);

    public int Count => AttributeNames.Length;

    public KeyValuePair<string, object?> this[int index] => new(AttributeNames[index], index switch
    {
        0 => AddressOf(Client),
        1 => PortOf(Client),
        2 => AcceptDate,
        3 => RouteId,
        4 => ClusterId,
        5 => Destination,
        6 => WaitMs,
        7 => ConnectMs,
        8 => TotalMs,
        9 => BytesDown,
        10 => BytesUp,
        11 => TerminationState,
        12 => End.Result(),
        13 => ActiveConnections,
        14 => RouteConnections,
        15 => ClusterConnections,
        16 => DestinationConnections,
        17 => Retries,
        18 => ProxyVersion,
        19 => AddressOf(UpstreamProxy),
        20 => PortOf(UpstreamProxy),
        _ => throw new ArgumentOutOfRangeException(nameof(index)),
    });

    /// <summary>The tcplog line (HAProxy's <c>srv_queue/backend_queue</c> are 0/0: nothing is queued).</summary>
    public override string ToString() => string.Create(CultureInfo.InvariantCulture,
        $"{AddressOf(Client) ?? "-"}:{PortOf(Client)?.ToString(CultureInfo.InvariantCulture) ?? "-"} [{AcceptDate:dd/MMM/yyyy:HH:mm:ss.fff}] {RouteId} {ClusterId}/{Destination} {WaitMs}/{ConnectMs}/{TotalMs} {BytesDown} {TerminationState} {ActiveConnections}/{RouteConnections}/{ClusterConnections}/{DestinationConnections}/{Retries} 0/0");

    public IEnumerator<KeyValuePair<string, object?>> GetEnumerator()
    {
        for (int i = 0; i < Count; i++)
        {
            yield return this[i];
        }
    }

    IEnumerator IEnumerable.GetEnumerator() => GetEnumerator();

    /// <summary>The address as HAProxy prints it (an IPv4 client of a dual-stack listener without its <c>::ffff:</c>).</summary>
    private static string? AddressOf(EndPoint? endPoint) => endPoint switch
    {
        IPEndPoint { Address: { IsIPv4MappedToIPv6: true } mapped } => mapped.MapToIPv4().ToString(),
        IPEndPoint ip => ip.Address.ToString(),
        null => null,
        _ => endPoint.AddressFamily == AddressFamily.Unix ? "unix" : endPoint.ToString(),
    };

    private static int? PortOf(EndPoint? endPoint) => endPoint is IPEndPoint ip ? ip.Port : null;
}
