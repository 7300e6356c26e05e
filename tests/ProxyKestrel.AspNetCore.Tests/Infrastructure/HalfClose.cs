using System.Net;
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

    /// <summary>The client the headers of the half-close tests announce.</summary>
    public static IPEndPoint Client { get; } = new(IPAddress.Parse("203.0.113.8"), 5000);

    /// <summary>The destination the headers of the half-close tests announce.</summary>
    public static IPEndPoint Destination { get; } = new(IPAddress.Parse("198.51.100.1"), 80);

    /// <summary>Each header version (1, 2) with each FIN placement or timing (true, false).</summary>
    public static TheoryData<int, bool> VersionsAndFinPlacement => new()
    {
        { 1, true },
        { 1, false },
        { 2, true },
        { 2, false },
    };

    /// <summary>The header of <paramref name="version"/> (v2 with a CRC32C) from <see cref="Client"/> to <see cref="Destination"/>.</summary>
    public static byte[] Header(int version) =>
        version == 1 ? ConnectionProbe.V1(Client, Destination) : ConnectionProbe.V2(Client, Destination, crc: true);

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
