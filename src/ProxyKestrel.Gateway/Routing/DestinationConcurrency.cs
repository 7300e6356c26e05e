using System.Runtime.CompilerServices;
using Yarp.ReverseProxy.Model;

namespace ProxyKestrel.Gateway.Routing;

/// <summary>
/// YARP's per-destination count of requests in flight (<see cref="DestinationState.ConcurrentRequestCount"/>, what the
/// LeastRequests and PowerOfTwoChoices policies compare), kept for TCP connections too, so HTTP and TCP routes on one
/// cluster balance against each other.
/// <para>
/// YARP's HTTP forwarder changes that count with atomic increments and decrements of an internal counter
/// (<c>DestinationState.ConcurrencyCounter</c>, an <c>AtomicCounter</c>); the public setter is a plain write, meant
/// for tests. A read-then-set from a TCP connection would overwrite an HTTP request's change made in between, and the
/// count would drift for good. So the TCP side uses the same counter's atomic operations. Should a YARP version lack
/// that counter (<see cref="IsAtomic"/> false), it falls back to the setter under a lock of its own: TCP changes are
/// then never lost among themselves, but one racing an HTTP request can be.
/// </para>
/// </summary>
internal static class DestinationConcurrency
{
    private const string CounterType = "Yarp.ReverseProxy.Utilities.AtomicCounter, Yarp.ReverseProxy";

    private static readonly Lock s_fallback = new();

    /// <summary>True when the count changes through YARP's own atomic counter (false: the setter fallback).</summary>
    public static bool IsAtomic { get; } = CanUseCounter();

    /// <summary>A connection to <paramref name="destination"/> started.</summary>
    public static void Increment(DestinationState destination)
    {
        if (IsAtomic)
        {
            _ = Increment(Counter(destination));
            return;
        }

        lock (s_fallback)
        {
            destination.ConcurrentRequestCount++;
        }
    }

    /// <summary>A connection to <paramref name="destination"/> ended.</summary>
    public static void Decrement(DestinationState destination)
    {
        if (IsAtomic)
        {
            _ = Decrement(Counter(destination));
            return;
        }

        lock (s_fallback)
        {
            destination.ConcurrentRequestCount--;
        }
    }

    private static bool CanUseCounter()
    {
        try
        {
            var probe = new DestinationState("probe");
            object counter = Counter(probe);
            return Increment(counter) == 1 && Decrement(counter) == 0 && probe.ConcurrentRequestCount == 0;
        }
        catch (Exception e) when (e is MissingMemberException or TypeLoadException or InvalidCastException)
        {
            return false;
        }
    }

    [UnsafeAccessor(UnsafeAccessorKind.Method, Name = "get_ConcurrencyCounter")]
    [return: UnsafeAccessorType(CounterType)]
    private static extern object Counter(DestinationState destination);

    [UnsafeAccessor(UnsafeAccessorKind.Method, Name = "Increment")]
    private static extern int Increment([UnsafeAccessorType(CounterType)] object counter);

    [UnsafeAccessor(UnsafeAccessorKind.Method, Name = "Decrement")]
    private static extern int Decrement([UnsafeAccessorType(CounterType)] object counter);
}
