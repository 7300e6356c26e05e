using System.Net;
using System.Net.Sockets;
using Microsoft.Extensions.Time.Testing;
using ProxyKestrel.ProxyProtocol;

namespace ProxyKestrel.AspNetCore.Tests.Infrastructure;

/// <summary>Headers and raw-socket checks shared by the middleware tests.</summary>
public static class ConnectionProbe
{
    public static TimeSpan Safety { get; } = TimeSpan.FromSeconds(10);

    public static byte[] V1(IPEndPoint source, IPEndPoint destination)
    {
        byte[] buffer = new byte[ProxyHeaderWriter.V1MaxLength];
        int n = ProxyHeaderWriter.WriteV1(buffer, source, destination);
        return buffer[..n];
    }

    public static byte[] V2(IPEndPoint source, IPEndPoint destination, bool crc = false)
    {
        byte[] buffer = new byte[256];
        var writer = ProxyV2HeaderWriter.Proxy(buffer, source.Address, source.Port, destination.Address, destination.Port);
        if (crc)
        {
            writer.AddCrc32C();
        }

        return buffer[..writer.Complete()];
    }

    public static byte[] Concat(params byte[][] parts) => [.. parts.SelectMany(p => p)];

    /// <summary>
    /// A socket bound to <paramref name="source"/> (its ephemeral port is known at once, as
    /// <see cref="Socket.LocalEndPoint"/>) and connected to 127.0.0.1:<paramref name="port"/>; false when the
    /// server reset the connection during the handshake.
    /// </summary>
    public static async Task<(Socket Socket, bool Connected)> ConnectFromAsync(int port, string source)
    {
        var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
        socket.Bind(new IPEndPoint(IPAddress.Parse(source), 0));
        try
        {
            await socket.ConnectAsync(new IPEndPoint(IPAddress.Loopback, port));
            return (socket, true);
        }
        catch (SocketException e) when (e.SocketErrorCode == SocketError.ConnectionReset)
        {
            return (socket, false);
        }
    }

    /// <summary>Sends, tolerating a reset: the server may already have closed the connection.</summary>
    public static async Task SendIgnoringResetAsync(Socket socket, byte[] data)
    {
        try
        {
            await socket.SendAsync(data);
        }
        catch (SocketException)
        {
        }
    }

    /// <summary>Reads until the server closes (0 bytes or a reset) and asserts that it wrote nothing.</summary>
    public static async Task AssertClosedWithNothingWrittenAsync(Socket socket)
    {
        string received = await RawHttpClient.ReadToEndAsync(socket, Safety);
        Assert.Equal(string.Empty, received);
    }

    /// <summary>True when nothing arrives and the connection stays open for <paramref name="wait"/>.</summary>
    public static async Task<bool> StaysOpenAsync(Socket socket, TimeSpan wait)
    {
        using var cts = new CancellationTokenSource(wait);
        try
        {
            await socket.ReceiveAsync(new byte[16], SocketFlags.None, cts.Token);
            return false;
        }
        catch (OperationCanceledException)
        {
            return true;
        }
        catch (SocketException)
        {
            return false;
        }
    }

    /// <summary>
    /// Advances <paramref name="time"/> past the header timeout, again and again (the middleware's timer may start
    /// after an earlier advance), until the server closes the connection; asserts it wrote nothing.
    /// </summary>
    public static async Task AdvanceUntilClosedAsync(Socket socket, FakeTimeProvider time)
    {
        using var safety = new CancellationTokenSource(Safety);
        byte[] buffer = new byte[64];
        while (true)
        {
            time.Advance(TimeSpan.FromSeconds(6));
            using var poll = CancellationTokenSource.CreateLinkedTokenSource(safety.Token);
            poll.CancelAfter(TimeSpan.FromMilliseconds(200));
            try
            {
                int n = await socket.ReceiveAsync(buffer, SocketFlags.None, poll.Token);
                Assert.Equal(0, n);
                return;
            }
            catch (SocketException)
            {
                return; // reset: closed, nothing written
            }
            catch (OperationCanceledException) when (!safety.IsCancellationRequested)
            {
            }
        }
    }
}
