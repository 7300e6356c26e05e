using System.Buffers.Binary;
using System.Diagnostics;
using System.Net;
using System.Net.Sockets;

using ProxyKestrel.ProxyProtocol;

namespace ProxyKestrel.Testing;

/// <summary>What <see cref="OversizedClaimProbe"/> saw.</summary>
internal sealed record OversizedClaimResult(long Connections, long Lost, bool Passed, string Details);

/// <summary>
/// Sends oversized v2 claims: exactly 16 bytes (must be closed at once), or 16 bytes then 60 KB trickled slowly.
/// Shared by the middleware and gateway oversized-claim tests.
/// </summary>
internal static class OversizedClaimProbe
{
    private const int Trickle = 60 * 1024;
    private const int Chunk = 1024;
    private static readonly TimeSpan ChunkPause = TimeSpan.FromMilliseconds(20);

    /// <summary>Closing "at once": well under the header timeout, with room for a loaded 2-core box.</summary>
    private static readonly TimeSpan AtOnce = TimeSpan.FromSeconds(2.5);

    /// <summary>The 16-byte fixed part of a v2 PROXY/INET/STREAM header announcing <paramref name="claim"/> bytes.</summary>
    internal static byte[] Claim(ushort claim)
    {
        byte[] bytes = [.. ProxyHeaderParser.V2Signature, 0x21, 0x11, 0, 0];
        BinaryPrimitives.WriteUInt16BigEndian(bytes.AsSpan(14), claim);
        return bytes;
    }

    public static async Task<OversizedClaimResult> RunAsync(int port, IPAddress source, int exact, int slow, TimeSpan headerTimeout)
    {
        byte[] claim = Claim(65535);
        var closeTimes = new List<double>();
        long lost = 0, wrote = 0, late = 0, trickleNotRefused = 0;
        long maxAccepted = 0;
        var trickleCloses = new List<double>();
        var clock = Stopwatch.StartNew();
        for (int i = 0; i < exact && clock.Elapsed < TimeSpan.FromMinutes(3); i++)
        {
            using Socket socket = await ConnectAsync(source, port);
            await socket.SendAsync(claim.AsMemory(), SocketFlags.None);
            (bool closed, int received, double ms) = await ClosedAsync(socket, headerTimeout + TimeSpan.FromSeconds(5));
            closeTimes.Add(ms);
            lost += closed ? 0 : 1;
            wrote += received > 0 ? 1 : 0;
            late += closed && ms > AtOnce.TotalMilliseconds ? 1 : 0;
        }

        for (int i = 0; i < slow && clock.Elapsed < TimeSpan.FromMinutes(5); i++)
        {
            using Socket socket = await ConnectAsync(source, port);
            await socket.SendAsync(claim.AsMemory(), SocketFlags.None);
            Task<(bool Closed, int Received, double Ms)> watch = ClosedAsync(socket, headerTimeout + TimeSpan.FromSeconds(5));
            long accepted = 0;
            bool refused = false;
            byte[] chunk = new byte[Chunk];
            while (accepted < Trickle)
            {
                try
                {
                    accepted += await socket.SendAsync(chunk.AsMemory(), SocketFlags.None);
                }
                catch (SocketException)
                {
                    refused = true;
                    break;
                }

                await Task.Delay(ChunkPause);
            }

            (bool closed, int received, double closedMs) = await watch;
            trickleCloses.Add(closedMs);
            lost += closed ? 0 : 1;
            late += closed && closedMs > AtOnce.TotalMilliseconds ? 1 : 0;
            wrote += received > 0 ? 1 : 0;
            trickleNotRefused += refused ? 0 : 1;
            maxAccepted = Math.Max(maxAccepted, accepted);
        }

        closeTimes.Sort();
        double p50 = closeTimes.Count > 0 ? closeTimes[closeTimes.Count / 2] : double.NaN;
        double max = closeTimes.Count > 0 ? closeTimes[^1] : double.NaN;
        long connections = closeTimes.Count + trickleCloses.Count;
        bool passed = closeTimes.Count == exact && trickleCloses.Count == slow && lost == 0 && wrote == 0 && late == 0 && trickleNotRefused == 0;
        string details =
            $"{closeTimes.Count} connections sending exactly 16 bytes (length 65535, MaxHeaderSize 4096, HeaderTimeout {headerTimeout.TotalSeconds:F0} s): " +
            $"closed after p50 {p50:F1} ms, max {max:F1} ms ({late} later than {AtOnce.TotalMilliseconds:F0} ms, {lost} not closed, {wrote} written to); " +
            $"{trickleCloses.Count} sending 16 bytes then 60 KB in 1 KB chunks every {ChunkPause.TotalMilliseconds:F0} ms: closed after max {(trickleCloses.Count > 0 ? trickleCloses.Max() : double.NaN):F1} ms, every one refused by the server before the rest " +
            $"({trickleNotRefused} not refused), at most {maxAccepted} bytes of the 60 KB accepted by the socket before the send failed";
        return new OversizedClaimResult(connections, lost, passed, details);
    }

    private static async Task<Socket> ConnectAsync(IPAddress source, int port)
    {
        var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
        socket.Bind(new IPEndPoint(source, 0));
        await socket.ConnectAsync(new IPEndPoint(IPAddress.Loopback, port));
        return socket;
    }

    /// <summary>Reads until the server closes (or resets); false at the timeout. Also returns the bytes received.</summary>
    private static async Task<(bool Closed, int Received, double Ms)> ClosedAsync(Socket socket, TimeSpan timeout)
    {
        var clock = Stopwatch.StartNew();
        byte[] buffer = new byte[1024];
        int total = 0;
        using var cts = new CancellationTokenSource(timeout);
        try
        {
            int n;
            while ((n = await socket.ReceiveAsync(buffer.AsMemory(), SocketFlags.None, cts.Token)) > 0)
            {
                total += n;
            }

            return (true, total, clock.Elapsed.TotalMilliseconds);
        }
        catch (SocketException)
        {
            return (true, total, clock.Elapsed.TotalMilliseconds);
        }
        catch (OperationCanceledException)
        {
            return (false, total, clock.Elapsed.TotalMilliseconds);
        }
    }
}
