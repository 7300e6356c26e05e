using Microsoft.Extensions.Logging;

namespace ProxyKestrel.AspNetCore.Tests.Infrastructure;

/// <summary>One log entry captured by <see cref="CapturingLoggerProvider"/>.</summary>
public sealed record CapturedLog(string Category, EventId EventId, LogLevel Level, string Message);

/// <summary>An <see cref="ILoggerProvider"/> that keeps every entry, of every level, in a thread-safe list.</summary>
public sealed class CapturingLoggerProvider : ILoggerProvider
{
    private readonly Lock _gate = new();
    private readonly List<CapturedLog> _entries = [];

    /// <summary>A copy of the entries captured so far.</summary>
    public IReadOnlyList<CapturedLog> Entries
    {
        get
        {
            lock (_gate)
            {
                return [.. _entries];
            }
        }
    }

    /// <summary>
    /// Polls until at least one entry matches (or <paramref name="timeout"/> passes), waits <paramref name="settle"/>
    /// more so that duplicates would show, and returns every matching entry.
    /// </summary>
    public async Task<IReadOnlyList<CapturedLog>> WaitForAsync(Func<CapturedLog, bool> predicate, TimeSpan timeout, TimeSpan? settle = null)
    {
        var clock = System.Diagnostics.Stopwatch.StartNew();
        while (clock.Elapsed < timeout && !Entries.Any(predicate))
        {
            await Task.Delay(20);
        }

        await Task.Delay(settle ?? TimeSpan.FromMilliseconds(200));
        return [.. Entries.Where(predicate)];
    }

    public ILogger CreateLogger(string categoryName) => new CapturingLogger(this, categoryName);

    public void Dispose()
    {
    }

    private void Add(CapturedLog entry)
    {
        lock (_gate)
        {
            _entries.Add(entry);
        }
    }

    private sealed class CapturingLogger(CapturingLoggerProvider provider, string category) : ILogger
    {
        public IDisposable? BeginScope<TState>(TState state)
            where TState : notnull => null;

        public bool IsEnabled(LogLevel logLevel) => logLevel != LogLevel.None;

        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter) =>
            provider.Add(new CapturedLog(category, eventId, logLevel, formatter(state, exception)));
    }
}
