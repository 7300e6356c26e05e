using System.Buffers;
using System.Net.Sockets;

namespace ProxyKestrel.Gateway.Udp;

/// <summary>
/// A session of the portable transport: a <see cref="Socket"/> connected to the destination, whose replies
/// <see cref="RelayRepliesAsync"/> passes to the client; it holds no buffer while it waits.
/// </summary>
internal sealed class UdpSocketSession : UdpSession
{
    /// <summary>The largest datagram a backend can send back (IPv6 loopback allows more than IPv4's 65,507).</summary>
    private const int MaxReplySize = 65_535;

    private static readonly byte[] s_peekByte = new byte[1];

    private readonly UdpSocketListener _listener;

    public UdpSocketSession(UdpSocketListener listener, in UdpSessionStart start, Socket backend)
        : base(start)
    {
        _listener = listener;
        Backend = backend;
    }

    public Socket Backend { get; }

    public override void CloseBackend() => Backend.Dispose();

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
                    // One byte, not zero: .NET completes a zero-byte receive from the readiness event alone, a one-byte
                    // peek always asks the socket. Every session peeks into the same byte; what lands there is never
                    // read.
                    await Backend.ReceiveAsync(s_peekByte, SocketFlags.Peek).ConfigureAwait(false);
                }
                catch (SocketException e) when (e.SocketErrorCode == SocketError.MessageSize)
                {
                    // Windows reports a datagram larger than the (empty) buffer this way: one is waiting.
                }

                byte[] buffer = ArrayPool<byte>.Shared.Rent(MaxReplySize);
                try
                {
                    int n = await Backend.ReceiveAsync(buffer, SocketFlags.None).ConfigureAwait(false);
                    _listener.SendToClient(buffer.AsSpan(0, n), ReplyTo);
                    _listener.SentDown(this, n);
                }
                finally
                {
                    ArrayPool<byte>.Shared.Return(buffer);
                }
            }
        }
        catch (SocketException e) when (UdpRouteEndpoint.IsUnreachable(e.SocketErrorCode))
        {
            _listener.DestinationUnreachable(this, e.SocketErrorCode.ToString());
        }
        catch (SocketException e) when (e.SocketErrorCode is SocketError.OperationAborted or SocketError.Interrupted || IsEnded)
        {
            // The session ended (its socket closed).
        }
        catch (Exception e) when (e is ObjectDisposedException or OperationCanceledException)
        {
            // The session or the listener ended.
        }
        catch (SocketException)
        {
            _listener.ReplyFailed(this);
        }
        catch (Exception e) when (e is not OutOfMemoryException)
        {
            // Never a session left open with nobody reading its replies: logged (179), counted, ended.
            _listener.ReplyLoopFailed(this, e);
        }
    }
}
