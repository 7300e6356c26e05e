using System.Buffers;
using System.Net;
using System.Net.Sockets;
using Yarp.ReverseProxy.Model;

namespace ProxyKestrel.Gateway.Udp;

/// <summary>
/// One client of a UDP route: its destination, a socket connected to it (so the kernel reports ICMP unreachable on it
/// and filters replies to that destination), the PROXY header its datagrams carry, and its counters. Replies are read
/// by <see cref="RelayRepliesAsync"/>, which holds no buffer while it waits.
/// </summary>
internal sealed class UdpSession
{
    /// <summary>The largest datagram a backend can send back (IPv6 loopback allows more than IPv4's 65,507).</summary>
    private const int MaxReplySize = 65_535;

    private readonly UdpRouteListener _listener;
    private long _lastActivity;
    private long _bytesUp;
    private long _bytesDown;
    private int _ended;

    public UdpSession(
        UdpRouteListener listener,
        UdpClientKey key,
        SocketAddress replyTo,
        IPEndPoint client,
        ClusterState cluster,
        DestinationState destination,
        Socket backend,
        byte[] header,
        long startTimestamp,
        DateTimeOffset started)
    {
        _listener = listener;
        Key = key;
        ReplyTo = replyTo;
        Client = client;
        Cluster = cluster;
        Destination = destination;
        Backend = backend;
        Header = header;
        StartTimestamp = startTimestamp;
        _lastActivity = startTimestamp;
        Started = started;
    }

    public UdpClientKey Key { get; }

    /// <summary>Where replies go: the datagrams' sender (the client, or the upstream proxy that sent its header).</summary>
    public SocketAddress ReplyTo { get; }

    /// <summary>The real client: the sender, or the client an upstream proxy's header names.</summary>
    public IPEndPoint Client { get; }

    public ClusterState Cluster { get; }

    public DestinationState Destination { get; }

    public Socket Backend { get; }

    /// <summary>The PROXY header put before each datagram to the backend (empty for a cluster without one).</summary>
    public byte[] Header { get; }

    public long StartTimestamp { get; }

    public DateTimeOffset Started { get; }

    public long LastActivity => Volatile.Read(ref _lastActivity);

    public long BytesUp => Volatile.Read(ref _bytesUp);

    public long BytesDown => Volatile.Read(ref _bytesDown);

    public bool IsEnded => Volatile.Read(ref _ended) != 0;

    public void SentUp(int bytes, long timestamp)
    {
        Interlocked.Add(ref _bytesUp, bytes);
        Volatile.Write(ref _lastActivity, timestamp);
    }

    /// <summary>True exactly once: the caller ends the session.</summary>
    public bool TryMarkEnded() => Interlocked.Exchange(ref _ended, 1) == 0;

    /// <summary>Relays the backend's datagrams to the client until the session ends or the destination is unreachable.</summary>
    public async Task RelayRepliesAsync()
    {
        try
        {
            while (true)
            {
                try
                {
                    // Waits for a datagram without taking it (or a buffer): thousands of idle sessions hold no memory.
                    await Backend.ReceiveAsync(Memory<byte>.Empty, SocketFlags.Peek).ConfigureAwait(false);
                }
                catch (SocketException e) when (e.SocketErrorCode == SocketError.MessageSize)
                {
                    // Windows reports a datagram larger than the (empty) buffer this way: one is waiting.
                }

                byte[] buffer = ArrayPool<byte>.Shared.Rent(MaxReplySize);
                try
                {
                    int n = await Backend.ReceiveAsync(buffer, SocketFlags.None).ConfigureAwait(false);
                    await _listener.SendToClientAsync(buffer.AsMemory(0, n), ReplyTo).ConfigureAwait(false);
                    Interlocked.Add(ref _bytesDown, n);
                    Volatile.Write(ref _lastActivity, _listener.Timestamp);
                    _listener.CountDown(n);
                }
                finally
                {
                    ArrayPool<byte>.Shared.Return(buffer);
                }
            }
        }
        catch (SocketException e) when (UdpRouteListener.IsUnreachable(e.SocketErrorCode))
        {
            _listener.DestinationUnreachable(this, e.SocketErrorCode.ToString());
        }
        catch (SocketException e) when (e.SocketErrorCode is SocketError.OperationAborted or SocketError.Interrupted || IsEnded)
        {
            // The session ended (its socket closed).
        }
        catch (ObjectDisposedException)
        {
            // The session ended (its socket closed).
        }
        catch (SocketException e)
        {
            _listener.ReplyFailed(this, e.SocketErrorCode.ToString());
        }
    }
}
