using System.Threading.Tasks.Sources;

namespace ProxyKestrel.Gateway.Transports.Epoll;

/// <summary>
/// One pending operation of an <see cref="EpollConnection"/> at a time, as a reusable <see cref="IValueTaskSource{T}"/>:
/// completed on the loop's thread, which then runs the lifecycle's continuation inline (no thread switch, no lock).
/// </summary>
internal sealed class LoopOperation<T> : IValueTaskSource<T>
{
    private ManualResetValueTaskSourceCore<T> _core;

    /// <summary>An operation was started and not completed yet.</summary>
    public bool Pending { get; private set; }

    public ValueTask<T> Start()
    {
        _core.Reset();
        Pending = true;
        return new ValueTask<T>(this, _core.Version);
    }

    /// <summary>Completes the pending operation; its continuation runs before this returns, so call it last.</summary>
    public void Complete(T result)
    {
        if (!Pending)
        {
            return;
        }

        Pending = false;
        _core.SetResult(result);
    }

    /// <summary>Forgets the completed operation (its continuation and result), so a pooled one holds nothing alive.</summary>
    public void Clear() => _core.Reset();

    public T GetResult(short token) => _core.GetResult(token);

    public ValueTaskSourceStatus GetStatus(short token) => _core.GetStatus(token);

    public void OnCompleted(Action<object?> continuation, object? state, short token, ValueTaskSourceOnCompletedFlags flags) =>
        _core.OnCompleted(continuation, state, token, flags);
}
