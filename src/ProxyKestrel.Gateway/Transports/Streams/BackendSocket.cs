using System.Net;
using System.Net.Sockets;
using ProxyKestrel.Gateway.Lifecycle;

namespace ProxyKestrel.Gateway.Transports.Streams;

/// <summary>The backend side as <see cref="Socket"/>s do it: a name lookup and a connect, each bounded by a deadline.</summary>
internal static class BackendSocket
{
    /// <summary>Looks <paramref name="host"/> up until <paramref name="deadline"/>; <paramref name="abort"/> is the kill.</summary>
    public static async ValueTask<ConnectResult> ResolveAsync(string host, long deadline, TimeProvider time, CancellationToken abort)
    {
        using var timeout = new CancellationTokenSource(Remaining(time, deadline), time);
        using var linked = CancellationTokenSource.CreateLinkedTokenSource(timeout.Token, abort);
        try
        {
            return await DnsLookup.ResolveAsync(host, linked.Token).ConfigureAwait(false);
        }
        catch (OperationCanceledException)
        {
            return abort.IsCancellationRequested ? ConnectResult.Killed : ConnectResult.TimedOut;
        }
    }

    /// <summary>Connects a new socket to <paramref name="endPoint"/>: the socket is returned on success only.</summary>
    public static async ValueTask<(ConnectResult Result, Socket? Socket)> ConnectAsync(IPEndPoint endPoint, long deadline, TimeProvider time, CancellationToken abort)
    {
        // An IPv4 or IPv6 socket (no dual-mode socket, one setsockopt less).
        var socket = new Socket(endPoint.AddressFamily, SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
        using var timeout = new CancellationTokenSource(Remaining(time, deadline), time);
        using var linked = CancellationTokenSource.CreateLinkedTokenSource(timeout.Token, abort);
        try
        {
            await socket.ConnectAsync(endPoint, linked.Token).ConfigureAwait(false);
            return (ConnectResult.Connected, socket);
        }
        catch (Exception e) when (e is OperationCanceledException or SocketException or ObjectDisposedException)
        {
            socket.Dispose();
            return (e switch
            {
                SocketException se => ConnectResult.Failed(se.SocketErrorCode.ToString(), se.Message),
                _ when abort.IsCancellationRequested => ConnectResult.Killed,
                _ => ConnectResult.TimedOut,
            }, null);
        }
    }

    /// <summary>The time left until <paramref name="deadline"/> (a timestamp of <paramref name="time"/>; long.MaxValue: none).</summary>
    public static TimeSpan Remaining(TimeProvider time, long deadline)
    {
        if (deadline == long.MaxValue)
        {
            return Timeout.InfiniteTimeSpan;
        }

        long left = deadline - time.GetTimestamp();
        return left <= 0 ? TimeSpan.Zero : TimeSpan.FromSeconds((double)left / time.TimestampFrequency);
    }
}
