using System.Diagnostics.CodeAnalysis;
using System.Runtime.CompilerServices;
using System.Runtime.ExceptionServices;

namespace ProxyKestrel.Gateway.Lifecycle;

/// <summary>
/// What an async method that nobody awaits returns: nothing to wait on, and its state machine lives in a pooled box
/// that goes back to the pool when the method ends. An unawaited <see cref="Task"/> costs a new box per call (a few
/// hundred bytes per connection for <see cref="TcpConnectionLifecycle"/>), garbage that stayed resident: with no
/// collection while 5,000 idle connections were opened, the gateway's RSS grew by every byte allocated, 1.3 KiB per
/// connection against 0.4 KiB before the lifecycle was written once (docs/performance-tcp-profile.md). The method must
/// handle its own exceptions: one that escapes is rethrown on the thread pool, as from an <c>async void</c> method.
/// </summary>
[AsyncMethodBuilder(typeof(UnawaitedMethodBuilder))]
internal readonly struct Unawaited
{
}

/// <summary>The builder of <see cref="Unawaited"/> methods (used by the compiler).</summary>
[SuppressMessage("Performance", "CA1822:Mark members as static", Justification = "The compiler calls the builder's members on an instance.")]
internal struct UnawaitedMethodBuilder
{
    [SuppressMessage("Performance", "CA1859:Use concrete types", Justification = "The builder is not generic; its state machine's type is known per call.")]
    private IUnawaitedBox? _box;

    public static UnawaitedMethodBuilder Create() => default;

    public readonly Unawaited Task => default;

    public void Start<TStateMachine>(ref TStateMachine stateMachine)
        where TStateMachine : IAsyncStateMachine
    {
        // The first step runs here, on the caller's thread; what it changes in the execution context does not leak out
        // to the caller, as for Task-returning methods.
        ExecutionContext? before = ExecutionContext.Capture();
        try
        {
            stateMachine.MoveNext();
        }
        finally
        {
            if (before is not null && !ReferenceEquals(ExecutionContext.Capture(), before))
            {
                ExecutionContext.Restore(before);
            }
        }
    }

    public readonly void SetStateMachine(IAsyncStateMachine stateMachine)
    {
    }

    public readonly void SetResult() => _box?.Complete(null);

    public readonly void SetException(Exception exception)
    {
        if (_box is { } box)
        {
            box.Complete(exception);
        }
        else
        {
            UnawaitedBox.Rethrow(exception);
        }
    }

    public void AwaitOnCompleted<TAwaiter, TStateMachine>(ref TAwaiter awaiter, ref TStateMachine stateMachine)
        where TAwaiter : INotifyCompletion
        where TStateMachine : IAsyncStateMachine =>
        awaiter.OnCompleted(BoxOf(ref stateMachine).MoveNextAction);

    public void AwaitUnsafeOnCompleted<TAwaiter, TStateMachine>(ref TAwaiter awaiter, ref TStateMachine stateMachine)
        where TAwaiter : ICriticalNotifyCompletion
        where TStateMachine : IAsyncStateMachine =>
        awaiter.UnsafeOnCompleted(BoxOf(ref stateMachine).MoveNextAction);

    /// <summary>
    /// The box this method runs in from its first await on. The first time, the box is set on this builder before the
    /// state machine (which holds the builder) is copied into it, so the copy knows its box too.
    /// </summary>
    private UnawaitedBox<TStateMachine> BoxOf<TStateMachine>(ref TStateMachine stateMachine)
        where TStateMachine : IAsyncStateMachine
    {
        if (_box is UnawaitedBox<TStateMachine> existing)
        {
            existing.Context = ExecutionContext.Capture();
            return existing;
        }

        UnawaitedBox<TStateMachine> box = UnawaitedBox<TStateMachine>.Rent();
        _box = box;
        box.StateMachine = stateMachine;
        box.Context = ExecutionContext.Capture();
        return box;
    }
}

/// <summary>A box, whatever its state machine.</summary>
internal interface IUnawaitedBox
{
    /// <summary>The method ended (with <paramref name="exception"/> if one escaped it); called from inside its last step.</summary>
    void Complete(Exception? exception);
}

internal static class UnawaitedBox
{
    /// <summary>As for an <c>async void</c> method: the exception is not lost.</summary>
    public static void Rethrow(Exception exception) =>
        ThreadPool.UnsafeQueueUserWorkItem(static e => ExceptionDispatchInfo.Capture(e).Throw(), exception, preferLocal: false);
}

/// <summary>
/// The pooled box of one kind of state machine. A step runs in the execution context captured at the await before it;
/// after the last step the box is cleared and returned, from outside the state machine's own frame.
/// </summary>
internal sealed class UnawaitedBox<TStateMachine> : IUnawaitedBox
    where TStateMachine : IAsyncStateMachine
{
    /// <summary>Boxes kept for reuse at most: the connections between accept and relay at one time, well above it.</summary>
    private const int MaxPooled = 4096;

    private static readonly ContextCallback s_moveNext = static box => ((UnawaitedBox<TStateMachine>)box!).StateMachine.MoveNext();
    private static readonly Stack<UnawaitedBox<TStateMachine>> s_pool = new();

    private int _completed;
    private Exception? _exception;

    private UnawaitedBox() => MoveNextAction = MoveNext;

    public TStateMachine StateMachine = default!;

    public ExecutionContext? Context;

    /// <summary>Made once per box, so that an await allocates nothing.</summary>
    public Action MoveNextAction { get; }

    public static UnawaitedBox<TStateMachine> Rent()
    {
        lock (s_pool)
        {
            if (s_pool.TryPop(out UnawaitedBox<TStateMachine>? box))
            {
                return box;
            }
        }

        return new UnawaitedBox<TStateMachine>();
    }

    public void Complete(Exception? exception)
    {
        _exception = exception;
        Volatile.Write(ref _completed, 1);
    }

    private void MoveNext()
    {
        if (Context is { } context)
        {
            ExecutionContext.Run(context, s_moveNext, this);
        }
        else
        {
            StateMachine.MoveNext();
        }

        // The last step may still be unwinding on another thread when this one (which set up its await) gets here:
        // whichever takes the flag returns the box, once. Nothing touches the state machine after its SetResult.
        if (Interlocked.Exchange(ref _completed, 0) == 0)
        {
            return;
        }

        Exception? exception = _exception;
        _exception = null;
        StateMachine = default!;
        Context = null;
        lock (s_pool)
        {
            if (s_pool.Count < MaxPooled)
            {
                s_pool.Push(this);
            }
        }

        if (exception is not null)
        {
            UnawaitedBox.Rethrow(exception);
        }
    }
}
