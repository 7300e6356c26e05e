using Microsoft.Extensions.Logging;

namespace ProxyKestrel.Gateway.Lifecycle;

/// <summary>
/// The access log: one entry per finished TCP route connection, category <see cref="CategoryName"/>, level
/// Information, event 113 (<c>AccessLog</c>); turned off with <c>Logging:LogLevel:ProxyKestrel.Gateway.AccessLog</c>.
/// </summary>
internal sealed class TcpAccessLog
{
    public const string CategoryName = "ProxyKestrel.Gateway.AccessLog";

    public static readonly EventId Event = new(113, "AccessLog");

    private static readonly Func<TcpConnectionRecord, Exception?, string> s_format = static (record, _) => record.ToString();

    private readonly ILogger _logger;

    public TcpAccessLog(ILoggerFactory loggers) => _logger = loggers.CreateLogger(CategoryName);

    /// <summary>Whether entries are written (checked before the counts are read for one).</summary>
    public bool IsEnabled => _logger.IsEnabled(LogLevel.Information);

    public void Write(TcpConnectionRecord record) => _logger.Log(LogLevel.Information, Event, record, null, s_format);
}
