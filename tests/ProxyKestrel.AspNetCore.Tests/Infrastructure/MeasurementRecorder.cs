using System.Diagnostics.Metrics;
using System.Globalization;
using Microsoft.Extensions.DependencyInjection;

namespace ProxyKestrel.AspNetCore.Tests.Infrastructure;

/// <summary>One measurement: instrument name, value, and tags rendered as invariant strings.</summary>
public sealed record RecordedMeasurement(string Instrument, double Value, IReadOnlyDictionary<string, string?> Tags)
{
    public string? Tag(string key) => Tags.TryGetValue(key, out string? value) ? value : null;
}

/// <summary>
/// Records the measurements of the PROXY protocol meter created by one application's <see cref="IMeterFactory"/>
/// (so that tests running in parallel, each with its own host, do not see each other's measurements).
/// </summary>
public sealed class MeasurementRecorder : IDisposable
{
    public const string MeterName = "ProxyKestrel.AspNetCore.ProxyProtocol";
    private readonly MeterListener _listener = new();
    private readonly Lock _gate = new();
    private readonly List<RecordedMeasurement> _measurements = [];

    public MeasurementRecorder(IServiceProvider services)
    {
        object scope = services.GetRequiredService<IMeterFactory>();
        _listener.InstrumentPublished = (instrument, listener) =>
        {
            if (instrument.Meter.Name == MeterName && ReferenceEquals(instrument.Meter.Scope, scope))
            {
                listener.EnableMeasurementEvents(instrument);
            }
        };
        _listener.SetMeasurementEventCallback<long>((instrument, value, tags, _) => Add(instrument, value, tags));
        _listener.SetMeasurementEventCallback<double>((instrument, value, tags, _) => Add(instrument, value, tags));
        _listener.Start();
    }

    public IReadOnlyList<RecordedMeasurement> Measurements
    {
        get
        {
            lock (_gate)
            {
                return [.. _measurements];
            }
        }
    }

    /// <summary>Polls until <paramref name="count"/> measurements of <paramref name="instrument"/> exist (or the timeout), then returns them all.</summary>
    public async Task<IReadOnlyList<RecordedMeasurement>> WaitForAsync(string instrument, int count, TimeSpan timeout)
    {
        var clock = System.Diagnostics.Stopwatch.StartNew();
        while (clock.Elapsed < timeout && Of(instrument).Count < count)
        {
            await Task.Delay(20);
        }

        await Task.Delay(100); // so that a duplicate would show
        return Of(instrument);
    }

    public void Dispose() => _listener.Dispose();

    private List<RecordedMeasurement> Of(string instrument) => [.. Measurements.Where(m => m.Instrument == instrument)];

    private void Add(Instrument instrument, double value, ReadOnlySpan<KeyValuePair<string, object?>> tags)
    {
        var rendered = new Dictionary<string, string?>(StringComparer.Ordinal);
        foreach (KeyValuePair<string, object?> tag in tags)
        {
            rendered[tag.Key] = Convert.ToString(tag.Value, CultureInfo.InvariantCulture);
        }

        lock (_gate)
        {
            _measurements.Add(new RecordedMeasurement(instrument.Name, value, rendered));
        }
    }
}
