using System.Runtime.CompilerServices;
using System.Threading.Tasks.Sources;
using ProxyKestrel.Gateway.Lifecycle;
using ProxyKestrel.Gateway.Tests.Infrastructure.Transports;

namespace ProxyKestrel.Gateway.Tests.Lifecycle;

[NotPerTransport("the async method builder of the lifecycle; no gateway, no socket")]
public class UnawaitedTests
{
    private static readonly AsyncLocal<string?> s_ambient = new();

    [Fact]
    public void Method_CompletedAsynchronouslyAgainAndAgain_AllocatesNothingOnceItsBoxIsPooled()
    {
        var source = new ManualSource();
        var steps = new StrongBox<int>();
        for (int i = 0; i < 100; i++)
        {
            _ = TwoAwaits(source, steps);
            source.Complete();
            source.Complete();
        }

        long before = GC.GetAllocatedBytesForCurrentThread();
        for (int i = 0; i < 1_000; i++)
        {
            _ = TwoAwaits(source, steps);
            source.Complete();
            source.Complete();
        }

        long allocated = GC.GetAllocatedBytesForCurrentThread() - before;
        Assert.Equal(1_100 * 3, steps.Value);
        Assert.True(allocated == 0, $"{allocated} bytes allocated by 1,000 calls that each awaited twice");
    }

    [Fact]
    public void Method_AwaitPending_ReturnsToTheCallerAtTheFirstAwaitAndEndsWhenResumed()
    {
        var source = new ManualSource();
        var steps = new StrongBox<int>();

        _ = TwoAwaits(source, steps);
        Assert.Equal(1, steps.Value);
        source.Complete();
        Assert.Equal(2, steps.Value);
        source.Complete();
        Assert.Equal(3, steps.Value);
    }

    [Fact]
    public async Task Method_ResumedOnAnotherThread_RunsInTheExecutionContextOfItsCaller()
    {
        s_ambient.Value = "caller";
        var seen = new TaskCompletionSource<string?>(TaskCreationOptions.RunContinuationsAsynchronously);
        _ = ReadAmbientAfterYield(seen);
        s_ambient.Value = null;

        Assert.Equal("caller", await seen.Task.WaitAsync(TimeSpan.FromSeconds(10)));
    }

    [Fact]
    public void Method_ChangesTheExecutionContextBeforeItsFirstAwait_TheCallersIsUnchanged()
    {
        var source = new ManualSource();
        s_ambient.Value = "caller";

        _ = SetAmbientThenAwait(source);

        Assert.Equal("caller", s_ambient.Value);
        source.Complete();
        Assert.Equal("caller", s_ambient.Value);
    }

    [Fact]
    public async Task Methods_ManyResumedConcurrentlyOnThePool_EachRunsEveryStepOnce()
    {
        const int Count = 20_000;
        int[] steps = new int[Count];
        using var allEnded = new CountdownEvent(Count);
        for (int round = 0; round < Count; round++)
        {
            _ = YieldTwice(steps, round, allEnded);
        }

        Assert.True(await Task.Run(() => allEnded.Wait(TimeSpan.FromSeconds(30))), $"{allEnded.CurrentCount} of {Count} never ended");
        Assert.All(steps, s => Assert.Equal(3, s));
    }

    private static async Unawaited TwoAwaits(ManualSource source, StrongBox<int> steps)
    {
        steps.Value++;
        await source.Next().ConfigureAwait(false);
        steps.Value++;
        await source.Next().ConfigureAwait(false);
        steps.Value++;
    }

    private static async Unawaited ReadAmbientAfterYield(TaskCompletionSource<string?> seen)
    {
        await Task.Yield();
        seen.SetResult(s_ambient.Value);
    }

    private static async Unawaited SetAmbientThenAwait(ManualSource source)
    {
        s_ambient.Value = "method";
        await source.Next().ConfigureAwait(false);
        Assert.Equal("method", s_ambient.Value);
    }

    private static async Unawaited YieldTwice(int[] steps, int index, CountdownEvent ended)
    {
        Interlocked.Increment(ref steps[index]);
        await Task.Yield();
        Interlocked.Increment(ref steps[index]);
        await Task.Yield();
        Interlocked.Increment(ref steps[index]);
        ended.Signal();
    }

    /// <summary>One pending operation at a time, completed by the test on its own thread (as a transport's loop does).</summary>
    private sealed class ManualSource : IValueTaskSource
    {
        private ManualResetValueTaskSourceCore<bool> _core;

        public ValueTask Next()
        {
            _core.Reset();
            return new ValueTask(this, _core.Version);
        }

        public void Complete() => _core.SetResult(true);

        public void GetResult(short token) => _core.GetResult(token);

        public ValueTaskSourceStatus GetStatus(short token) => _core.GetStatus(token);

        public void OnCompleted(Action<object?> continuation, object? state, short token, ValueTaskSourceOnCompletedFlags flags) =>
            _core.OnCompleted(continuation, state, token, flags);
    }
}
