namespace ProxyKestrel.Gateway.Transports.Streams;

/// <summary>One operation's cancellation: at its deadline (on the gateway's <see cref="TimeProvider"/>) or by the kill.</summary>
internal readonly struct OperationTimeout : IDisposable
{
    private readonly CancellationTokenSource? _source;
    private readonly ITimer? _timer;

    private OperationTimeout(CancellationTokenSource source, ITimer timer)
    {
        _source = source;
        _timer = timer;
    }

    /// <summary>Starts the timeout; <paramref name="token"/> is <paramref name="killed"/> alone when there is no deadline.</summary>
    public static OperationTimeout Start(TimeProvider time, long deadline, CancellationToken killed, out CancellationToken token)
    {
        if (deadline == long.MaxValue)
        {
            token = killed;
            return default;
        }

        var source = CancellationTokenSource.CreateLinkedTokenSource(killed);
        ITimer timer = time.CreateTimer(static state => Cancel((CancellationTokenSource)state!), source, BackendSocket.Remaining(time, deadline), System.Threading.Timeout.InfiniteTimeSpan);
        token = source.Token;
        return new OperationTimeout(source, timer);
    }

    public void Dispose()
    {
        _timer?.Dispose();
        _source?.Dispose();
    }

    private static void Cancel(CancellationTokenSource source)
    {
        try
        {
            source.Cancel();
        }
        catch (ObjectDisposedException)
        {
            // The operation finished first.
        }
    }
}
