using System.Net;
using Microsoft.Extensions.Logging;

namespace ProxyKestrel.Gateway.Transports.Epoll;

/// <summary>Log messages of the epoll transport. Event ids are stable.</summary>
internal static partial class EpollLog
{
    [LoggerMessage(EventId = 150, EventName = "EpollLoopFailed", Level = LogLevel.Critical,
        Message = "Event loop {Loop} stopped: epoll_wait failed: {Reason}.")]
    public static partial void LoopFailed(ILogger logger, int loop, string reason);

    [LoggerMessage(EventId = 151, EventName = "EpollHandlerFailed", Level = LogLevel.Error,
        Message = "Event loop {Loop}: handling an event failed; that connection was closed.")]
    public static partial void HandlerFailed(ILogger logger, int loop, Exception exception);

    [LoggerMessage(EventId = 152, EventName = "EpollAcceptPaused", Level = LogLevel.Warning,
        Message = "Listener {EndPoint} stopped accepting until the next tick: {Reason}.")]
    public static partial void AcceptPaused(ILogger logger, EndPoint endPoint, string reason);

    [LoggerMessage(EventId = 153, EventName = "EpollSlowTurn", Level = LogLevel.Warning,
        Message = "Event loop {Loop} spent {Milliseconds} ms in one turn ({Events} events); every other connection of that loop waited as long. Slow turns not reported since the last report: {Unreported}.")]
    public static partial void SlowTurn(ILogger logger, int loop, double milliseconds, int events, int unreported);
}
