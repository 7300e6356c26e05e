using System.Net.Sockets;

namespace ProxyKestrel.AspNetCore.Tests.Infrastructure;

/// <summary>
/// Sends bytes and then half-closes (FIN) the way <c>nc -N</c>, <c>printf … | socat</c> or a relaying HAProxy does:
/// either with the FIN in the same TCP segment as the last byte, or in a segment of its own after it.
/// </summary>
public static class HalfClose
{
    private const int IpProtoTcp = 6;
    private const int TcpCork = 3;

    /// <summary>
    /// Writes each chunk with a write of its own, then shuts the sending side down. With
    /// <paramref name="finWithLastByte"/> the last chunk is corked (Linux <c>TCP_CORK</c>) so that the kernel sends
    /// it with the FIN flag set, in one segment; otherwise the last chunk leaves at once (<c>TCP_NODELAY</c>) and the
    /// FIN follows in a segment of its own.
    /// </summary>
    public static async Task SendThenFinAsync(Socket socket, bool finWithLastByte, params byte[][] chunks)
    {
        socket.NoDelay = true;
        for (int i = 0; i < chunks.Length; i++)
        {
            if (i == chunks.Length - 1 && finWithLastByte)
            {
                socket.SetRawSocketOption(IpProtoTcp, TcpCork, BitConverter.GetBytes(1));
            }

            if (chunks[i].Length > 0)
            {
                await socket.SendAsync(chunks[i]);
            }
        }

        socket.Shutdown(SocketShutdown.Send);
    }
}
