using System.Net;
using System.Net.Sockets;

namespace ProxyKestrel.ProxyProtocol;

/// <summary>Receiving PROXY v2 datagrams from a <see cref="Socket"/>.</summary>
public static class ProxyDatagramSocketExtensions
{
    /// <summary>
    /// Receives one datagram into <paramref name="buffer"/>, its sender into <paramref name="remote"/>, and classifies
    /// it with <paramref name="receiver"/>. Every datagram is returned, rejected ones included, so the caller can count
    /// and log them before it drops them (nothing is dropped here). The payload is a slice of
    /// <paramref name="buffer"/>, valid until the next receive into it.
    /// </summary>
    /// <param name="socket">A bound datagram socket.</param>
    /// <param name="buffer">
    /// Where the datagram goes. Give it room for the largest datagram (65,535 bytes covers every UDP datagram): a
    /// longer one is cut or fails, depending on the platform, and a cut header is reported as truncated.
    /// </param>
    /// <param name="remote">Receives the sender's address: <c>new SocketAddress(socket.AddressFamily)</c>, reused across calls.</param>
    /// <param name="receiver">The compiled options.</param>
    /// <param name="cancellationToken">Cancels the receive.</param>
    public static async ValueTask<ProxyDatagramReceiveResult> ReceiveProxyDatagramAsync(
        this Socket socket,
        Memory<byte> buffer,
        SocketAddress remote,
        ProxyDatagramReceiver receiver,
        CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(socket);
        ArgumentNullException.ThrowIfNull(remote);
        ArgumentNullException.ThrowIfNull(receiver);
        int received = await socket.ReceiveFromAsync(buffer, SocketFlags.None, remote, cancellationToken).ConfigureAwait(false);
        ProxyDatagramStatus status = receiver.Receive(buffer[..received], remote, out ProxyDatagram datagram);
        return new ProxyDatagramReceiveResult(status, datagram, received);
    }
}
