using System.Net;
using System.Net.Sockets;
using Yarp.ReverseProxy.Model;

namespace ProxyKestrel.Gateway.Udp;

/// <summary>
/// One client of a UDP route: its destination, the PROXY header its datagrams carry, its counters and its reply
/// address. The transport holds the backend socket (connected to the destination, so the kernel reports ICMP
/// unreachable on it and passes only that destination's replies) and closes it in <see cref="CloseBackend"/>.
/// </summary>
internal abstract class UdpSession
{
    private long _lastActivity;
    private long _bytesUp;
    private long _bytesDown;
    private int _ended;

    protected UdpSession(in UdpSessionStart start)
    {
        Key = start.Key;
        ReplyTo = start.ReplyTo;
        Client = start.Client;
        Cluster = start.Cluster;
        Destination = start.Destination;
        Header = start.Header;
        StartTimestamp = start.Timestamp;
        _lastActivity = start.Timestamp;
        Started = start.Started;
    }

    public UdpClientKey Key { get; }

    /// <summary>Where replies go: the datagrams' sender (the client, or the upstream proxy that sent its header).</summary>
    public SocketAddress ReplyTo { get; }

    /// <summary>The real client: the sender, or the client an upstream proxy's header names.</summary>
    public IPEndPoint Client { get; }

    public ClusterState Cluster { get; }

    public DestinationState Destination { get; }

    /// <summary>The PROXY header put before each datagram to the backend (empty for a cluster without one).</summary>
    public byte[] Header { get; }

    public long StartTimestamp { get; }

    public DateTimeOffset Started { get; }

    public long LastActivity => Volatile.Read(ref _lastActivity);

    public long BytesUp => Volatile.Read(ref _bytesUp);

    public long BytesDown => Volatile.Read(ref _bytesDown);

    public bool IsEnded => Volatile.Read(ref _ended) != 0;

    public void CountUp(int bytes, long timestamp)
    {
        Interlocked.Add(ref _bytesUp, bytes);
        Volatile.Write(ref _lastActivity, timestamp);
    }

    public void CountDown(int bytes, long timestamp)
    {
        Interlocked.Add(ref _bytesDown, bytes);
        Volatile.Write(ref _lastActivity, timestamp);
    }

    /// <summary>True exactly once: the caller ends the session.</summary>
    public bool TryMarkEnded() => Interlocked.Exchange(ref _ended, 1) == 0;

    /// <summary>Closes the backend socket (on whatever thread the transport needs).</summary>
    public abstract void CloseBackend();
}

/// <summary>What a new session starts with.</summary>
internal readonly record struct UdpSessionStart(
    UdpClientKey Key,
    SocketAddress ReplyTo,
    IPEndPoint Client,
    ClusterState Cluster,
    DestinationState Destination,
    byte[] Header,
    long Timestamp,
    DateTimeOffset Started);
