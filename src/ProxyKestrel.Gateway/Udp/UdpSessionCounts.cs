using System.Collections.Concurrent;
using System.Runtime.CompilerServices;

namespace ProxyKestrel.Gateway.Udp;

/// <summary>Open UDP sessions: in all, per route, per cluster and per destination (the access log's counters).</summary>
internal sealed class UdpSessionCounts
{
    private readonly ConcurrentDictionary<string, StrongBox<int>> _counts = new(StringComparer.Ordinal);
    private int _active;

    /// <summary>The counts when a session ended (itself included, as HAProxy's tcplog counts the logged connection).</summary>
    public readonly record struct Snapshot(int Active, int Route, int Cluster, int Destination);

    public int Active => Volatile.Read(ref _active);

    /// <summary>Open sessions of a route, over all its endpoints.</summary>
    public int OfRoute(string routeId) => _counts.TryGetValue("r:" + routeId, out StrongBox<int>? box) ? Volatile.Read(ref box.Value) : 0;

    public void Opened(string routeId, string clusterId, string destinationId)
    {
        Interlocked.Increment(ref _active);
        Interlocked.Increment(ref Box("r:" + routeId).Value);
        Interlocked.Increment(ref Box("c:" + clusterId).Value);
        Interlocked.Increment(ref Box("d:" + clusterId + "/" + destinationId).Value);
    }

    /// <summary>Counts the session as ended and returns the counts just before.</summary>
    public Snapshot Closed(string routeId, string clusterId, string destinationId)
    {
        int active = Interlocked.Decrement(ref _active) + 1;
        int route = Interlocked.Decrement(ref Box("r:" + routeId).Value) + 1;
        int cluster = Interlocked.Decrement(ref Box("c:" + clusterId).Value) + 1;
        int destination = Interlocked.Decrement(ref Box("d:" + clusterId + "/" + destinationId).Value) + 1;
        return new Snapshot(active, route, cluster, destination);
    }

    private StrongBox<int> Box(string key) => _counts.GetOrAdd(key, static _ => new StrongBox<int>());
}
