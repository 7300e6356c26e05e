using System.Diagnostics;
using System.Diagnostics.Metrics;

namespace ProxyKestrel.AspNetCore;

/// <summary>
/// Instruments of the middleware (meter <c>ProxyKestrel.AspNetCore.ProxyProtocol</c>), created through
/// <see cref="IMeterFactory"/> when one is registered.
/// </summary>
internal sealed class ProxyProtocolMetrics
{
    /// <summary>The meter name to subscribe to (OpenTelemetry <c>AddMeter</c>).</summary>
    public const string MeterName = "ProxyKestrel.AspNetCore.ProxyProtocol";

    private readonly Counter<long> _connections;
    private readonly Histogram<double> _headerDuration;

    public ProxyProtocolMetrics(IMeterFactory? meterFactory)
    {
        Meter meter = meterFactory?.Create(MeterName) ?? new Meter(MeterName);
        _connections = meter.CreateCounter<long>(
            "proxykestrel.proxy_protocol.connections",
            unit: "{connection}",
            description: "Connections handled by the PROXY protocol middleware, by outcome (accepted, rejected, passthrough).");
        _headerDuration = meter.CreateHistogram<double>(
            "proxykestrel.proxy_protocol.header.duration",
            unit: "s",
            description: "Time from the connection's start to a decision on its PROXY header.",
            tags: null,
            advice: new InstrumentAdvice<double> { HistogramBucketBoundaries = [0.0005, 0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 3, 5, 10] });
    }

    public void Accepted(int version, string command, TimeSpan elapsed)
    {
        var tags = new TagList
        {
            { "proxy_protocol.outcome", "accepted" },
            { "proxy_protocol.version", version },
            { "proxy_protocol.command", command },
        };
        _connections.Add(1, tags);
        _headerDuration.Record(elapsed.TotalSeconds, tags);
    }

    public void Rejected(string errorType, TimeSpan elapsed)
    {
        var tags = new TagList
        {
            { "proxy_protocol.outcome", "rejected" },
            { "error.type", errorType },
        };
        _connections.Add(1, tags);
        _headerDuration.Record(elapsed.TotalSeconds, tags);
    }

    public void Passthrough(string reason)
    {
        _connections.Add(1, new TagList
        {
            { "proxy_protocol.outcome", "passthrough" },
            { "proxy_protocol.passthrough_reason", reason },
        });
    }
}
