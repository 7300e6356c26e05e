using System.Diagnostics;
using System.Diagnostics.Metrics;
using ProxyKestrel.Gateway.Diagnostics;

namespace ProxyKestrel.Gateway.Udp;

/// <summary>Instruments of the UDP routes (meter <c>ProxyKestrel.Gateway</c>, names <c>proxykestrel.udp.*</c>).</summary>
internal sealed class UdpProxyMetrics
{
    private const string RouteTag = "proxykestrel.route";

    private readonly UpDownCounter<long> _active;
    private readonly Counter<long> _sessions;
    private readonly Counter<long> _datagrams;
    private readonly Counter<long> _bytes;
    private readonly Counter<long> _dropped;

    public UdpProxyMetrics(IMeterFactory? meterFactory)
    {
        Meter meter = meterFactory?.Create(TcpProxyMetrics.MeterName) ?? new Meter(TcpProxyMetrics.MeterName);
        _active = meter.CreateUpDownCounter<long>("proxykestrel.udp.active_sessions", "{session}", "Open UDP client sessions.");
        _sessions = meter.CreateCounter<long>("proxykestrel.udp.sessions", "{session}", "Ended UDP client sessions, by result.");
        _datagrams = meter.CreateCounter<long>("proxykestrel.udp.datagrams", "{datagram}", "Datagrams relayed, by direction (transmit: client to backend).");
        _bytes = meter.CreateCounter<long>("proxykestrel.udp.bytes", "By", "Payload bytes relayed (PROXY headers not counted), by direction (transmit: client to backend).");
        _dropped = meter.CreateCounter<long>("proxykestrel.udp.dropped_datagrams", "{datagram}", "Datagrams dropped, by reason.");
    }

    public void Opened(string route) => _active.Add(1, new KeyValuePair<string, object?>(RouteTag, route));

    public void Ended(string route, string result)
    {
        _active.Add(-1, new KeyValuePair<string, object?>(RouteTag, route));
        _sessions.Add(1, new TagList { { RouteTag, route }, { "proxykestrel.result", result } });
    }

    /// <summary>A datagram relayed client to backend (<c>transmit</c>).</summary>
    public void Up(string route, int bytes)
    {
        var tags = new TagList { { RouteTag, route }, { "network.io.direction", "transmit" } };
        _datagrams.Add(1, tags);
        _bytes.Add(bytes, tags);
    }

    /// <summary>A datagram relayed backend to client (<c>receive</c>).</summary>
    public void Down(string route, int bytes)
    {
        var tags = new TagList { { RouteTag, route }, { "network.io.direction", "receive" } };
        _datagrams.Add(1, tags);
        _bytes.Add(bytes, tags);
    }

    public void Dropped(string route, string reason) =>
        _dropped.Add(1, new TagList { { RouteTag, route }, { "proxykestrel.reason", reason } });
}
