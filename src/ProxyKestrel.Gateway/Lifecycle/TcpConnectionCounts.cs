using System.Collections.Concurrent;
using System.Runtime.CompilerServices;

namespace ProxyKestrel.Gateway.Lifecycle;

/// <summary>
/// The counts the access log reports as HAProxy's <c>actconn</c> (open client connections of the gateway) and
/// <c>beconn</c> (connections relayed to a cluster now); <c>feconn</c> is the route's own count and <c>srv_conn</c>
/// YARP's per-destination count.
/// </summary>
internal sealed class TcpConnectionCounts
{
    private readonly ConcurrentDictionary<string, StrongBox<int>> _clusters = new(StringComparer.Ordinal);
    private int _active;

    public int Active => Volatile.Read(ref _active);

    public void Opened() => Interlocked.Increment(ref _active);

    public void Closed() => Interlocked.Decrement(ref _active);

    /// <summary>The counter of a cluster id, kept for the gateway's life (cluster ids are few).</summary>
    public StrongBox<int> Cluster(string clusterId) => _clusters.GetOrAdd(clusterId, static _ => new StrongBox<int>());

    public int RelayedTo(string clusterId) => _clusters.TryGetValue(clusterId, out StrongBox<int>? count) ? Volatile.Read(ref count.Value) : 0;
}
