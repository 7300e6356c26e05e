using System.Diagnostics;
using System.Diagnostics.Metrics;

namespace ProxyKestrel.Gateway.Diagnostics;

/// <summary>Instruments of the TCP gateway (meter <c>ProxyKestrel.Gateway</c>).</summary>
internal sealed class TcpProxyMetrics
{
    public const string MeterName = "ProxyKestrel.Gateway";

    private readonly UpDownCounter<long> _active;
    private readonly Counter<long> _connections;
    private readonly Counter<long> _connectErrors;
    private readonly Counter<long> _bytes;
    private readonly Histogram<double> _duration;

    public TcpProxyMetrics(IMeterFactory? meterFactory)
    {
        Meter meter = meterFactory?.Create(MeterName) ?? new Meter(MeterName);
        _active = meter.CreateUpDownCounter<long>("proxykestrel.tcp.active_connections", "{connection}", "Open relayed connections.");
        _connections = meter.CreateCounter<long>("proxykestrel.tcp.connections", "{connection}", "Finished client connections, by result.");
        _connectErrors = meter.CreateCounter<long>("proxykestrel.tcp.connect_errors", "{error}", "Failed attempts to connect to a destination.");
        _bytes = meter.CreateCounter<long>("proxykestrel.tcp.bytes", "By", "Bytes relayed, by direction (up: client to backend).");
        _duration = meter.CreateHistogram<double>(
            "proxykestrel.tcp.connection.duration",
            unit: "s",
            description: "Duration of client connections.",
            tags: null,
            advice: new InstrumentAdvice<double> { HistogramBucketBoundaries = [0.01, 0.05, 0.1, 0.5, 1, 5, 10, 30, 60, 300, 900, 3600] });
    }

    public void Opened(string route) => _active.Add(1, new KeyValuePair<string, object?>("proxykestrel.route", route));

    public void Closed(string route, string result, TimeSpan duration, long up, long down)
    {
        var tags = new TagList { { "proxykestrel.route", route }, { "proxykestrel.result", result } };
        _active.Add(-1, new KeyValuePair<string, object?>("proxykestrel.route", route));
        _duration.Record(duration.TotalSeconds, tags);
        _bytes.Add(up, new TagList { { "proxykestrel.route", route }, { "network.io.direction", "transmit" } });
        _bytes.Add(down, new TagList { { "proxykestrel.route", route }, { "network.io.direction", "receive" } });
        // Last: whoever sees the connection counted (a scrape, a test) sees its bytes and duration too.
        _connections.Add(1, tags);
    }

    public void Refused(string route, string reason) =>
        _connections.Add(1, new TagList { { "proxykestrel.route", route }, { "proxykestrel.result", reason } });

    public void ConnectError(string route, string destination, string errorType) =>
        _connectErrors.Add(1, new TagList { { "proxykestrel.route", route }, { "proxykestrel.destination", destination }, { "error.type", errorType } });
}
