using System.Buffers;
using System.Net;

namespace ProxyKestrel.Gateway.Lifecycle;

/// <summary>
/// The I/O one client connection needs, as a transport provides it (Kestrel's sockets or the epoll loops). The
/// transport does I/O and nothing else: every decision (admission, the upstream header, the SNI peek, the
/// destination and failover, the PROXY header, the end and what is logged) is <see cref="TcpConnectionLifecycle"/>'s.
/// The lifecycle calls one operation at a time; none of them throws for a network event: each reports it as a status.
/// </summary>
internal interface ITcpConnectionIo
{
    /// <summary>The peer that connected (the client, or the upstream proxy that sends a PROXY header).</summary>
    EndPoint? RemoteEndPoint { get; }

    /// <summary>The address the peer dialled.</summary>
    EndPoint? LocalEndPoint { get; }

    /// <summary>A process-wide unique id (the PROXY v2 unique-id TLV); only read when a cluster sends it.</summary>
    string ConnectionId { get; }

    /// <summary>
    /// Every byte received from the client so far and not yet given to <see cref="StartRelay"/>: valid until the next
    /// operation.
    /// </summary>
    ReadOnlySequence<byte> Received { get; }

    /// <summary>
    /// Waits until more bytes from the client are in <see cref="Received"/> (nothing is consumed), the client ends,
    /// <paramref name="deadline"/> (a timestamp of the gateway's <see cref="TimeProvider"/>) passes, or the connection is
    /// killed.
    /// </summary>
    ValueTask<ReceiveStatus> ReceiveAsync(long deadline);

    /// <summary>
    /// Takes the connection off the transport's own I/O for a step that talks to both sides before the relay (the mail
    /// front): what was received and not yet relayed stays in <see cref="Received"/>. Only before a backend connection,
    /// with no operation pending; afterwards only the returned I/O is used, and its operations run on the thread pool.
    /// </summary>
    IStreamConnectionIo DetachToStreams();

    /// <summary>Looks up a destination's DNS name (<see cref="ConnectResult.Addresses"/> on success).</summary>
    ValueTask<ConnectResult> ResolveAsync(string host, long deadline);

    /// <summary>Opens the backend connection (closing the one of a failed attempt before).</summary>
    ValueTask<ConnectResult> ConnectAsync(IPEndPoint endPoint, long deadline);

    /// <summary>
    /// Sends <paramref name="header"/> to the backend, then the client's bytes received so far after the first
    /// <paramref name="skip"/> (the upstream PROXY header), then relays both ways until both sides have ended, one
    /// fails, a side is quiet for its timeout, or the connection is killed; half-closes are passed on after the data.
    /// Returns at once: <paramref name="ended"/> is told how the relay ended (on the epoll transport, on the loop's
    /// thread), so nothing of the lifecycle waits while a connection relays. <paramref name="header"/> stays valid
    /// until then.
    /// </summary>
    void StartRelay(ReadOnlyMemory<byte> header, int skip, TimeSpan clientTimeout, TimeSpan serverTimeout, IRelayEnded ended);

    /// <summary>Closes both sockets (the backend's if one is open).</summary>
    void Close(CloseMode mode);

    /// <summary>The connection's end is recorded (metrics, logs): the listener stops counting it.</summary>
    void Ended();
}
