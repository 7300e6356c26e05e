using System.Collections.Concurrent;
using System.Diagnostics.Metrics;
using Microsoft.Extensions.DependencyInjection;

namespace ProxyKestrel.Gateway.Tests.Infrastructure;

/// <summary>
/// Records the measurements of one gateway's <c>ProxyKestrel.Gateway</c> meter (only that host's, by its
/// <see cref="IMeterFactory"/>): histograms as 1 (or -1 for a negative value), counters with their value.
/// </summary>
internal sealed class GatewayMeasurements : IDisposable
{
    private readonly MeterListener _listener = new();

    private GatewayMeasurements(GatewayHost gateway)
    {
        IMeterFactory factory = gateway.Services.GetRequiredService<IMeterFactory>();
        _listener.InstrumentPublished = (instrument, l) =>
        {
            if (instrument.Meter.Name == "ProxyKestrel.Gateway" && instrument.Meter.Scope == factory)
            {
                l.EnableMeasurementEvents(instrument);
            }
        };
        _listener.SetMeasurementEventCallback<long>((instrument, value, tags, _) =>
            All.Enqueue((instrument.Name, value, tags.ToArray().ToDictionary(t => t.Key, t => t.Value))));
        _listener.SetMeasurementEventCallback<double>((instrument, value, tags, _) =>
            All.Enqueue((instrument.Name, value >= 0 ? 1 : -1, tags.ToArray().ToDictionary(t => t.Key, t => t.Value))));
        _listener.Start();
    }

    public ConcurrentQueue<(string Instrument, long Value, Dictionary<string, object?> Tags)> All { get; } = new();

    public static GatewayMeasurements Start(GatewayHost gateway) => new(gateway);

    /// <summary>Connections of <paramref name="routeId"/> open now (the sum of <c>proxykestrel.tcp.active_connections</c>).</summary>
    public long Active(string routeId) =>
        All.Where(m => m.Instrument == "proxykestrel.tcp.active_connections" && (string?)m.Tags["proxykestrel.route"] == routeId).Sum(m => m.Value);

    /// <summary>The <c>proxykestrel.result</c> of each finished connection of <paramref name="routeId"/>, in order.</summary>
    public IReadOnlyList<string?> Results(string routeId) =>
        [.. All.Where(m => m.Instrument == "proxykestrel.tcp.connections" && (string?)m.Tags["proxykestrel.route"] == routeId)
            .Select(m => (string?)m.Tags["proxykestrel.result"])];

    public void Dispose() => _listener.Dispose();
}
