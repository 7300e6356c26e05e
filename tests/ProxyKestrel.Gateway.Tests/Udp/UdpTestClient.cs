using System.Net;
using System.Net.Sockets;
using System.Text;

namespace ProxyKestrel.Gateway.Tests.Udp;

/// <summary>A UDP client socket bound to a loopback address of its own (127.0.0.2, …) talking to one endpoint.</summary>
internal sealed class UdpTestClient : IDisposable
{
    private readonly Socket _socket;
    private readonly IPEndPoint _target;

    public UdpTestClient(IPEndPoint target, string from = "127.0.0.2")
    {
        _target = target;
        _socket = new Socket(AddressFamily.InterNetwork, SocketType.Dgram, ProtocolType.Udp);
        _socket.Bind(new IPEndPoint(IPAddress.Parse(from), 0));
    }

    public IPEndPoint LocalEndPoint => (IPEndPoint)_socket.LocalEndPoint!;

    public Task SendAsync(string text) => SendAsync(Encoding.ASCII.GetBytes(text));

    public async Task SendAsync(byte[] datagram) => await _socket.SendToAsync(datagram, _target);

    /// <summary>The next datagram from the target as ASCII, or null when none comes within <paramref name="timeout"/>.</summary>
    public async Task<string?> ReceiveAsync(TimeSpan? timeout = null)
    {
        byte[] buffer = new byte[70_000];
        using var cts = new CancellationTokenSource(timeout ?? TimeSpan.FromSeconds(5));
        try
        {
            while (true)
            {
                SocketReceiveFromResult result = await _socket.ReceiveFromAsync(buffer, new IPEndPoint(IPAddress.Any, 0), cts.Token);
                if (result.RemoteEndPoint.Equals(_target))
                {
                    return Encoding.ASCII.GetString(buffer, 0, result.ReceivedBytes);
                }
            }
        }
        catch (OperationCanceledException)
        {
            return null;
        }
    }

    /// <summary>Reads and discards datagrams until none has come for <paramref name="quiet"/>.</summary>
    public async Task DrainAsync(TimeSpan quiet)
    {
        while (await ReceiveAsync(quiet) is not null)
        {
        }
    }

    /// <summary>The first datagram (ASCII) that <paramref name="match"/> accepts, skipping others; null when none comes within <paramref name="timeout"/>.</summary>
    public async Task<string?> ReceiveUntilAsync(Func<string, bool> match, TimeSpan timeout)
    {
        long deadline = Environment.TickCount64 + (long)timeout.TotalMilliseconds;
        while (Environment.TickCount64 < deadline)
        {
            string? text = await ReceiveAsync(TimeSpan.FromMilliseconds(Math.Max(1, deadline - Environment.TickCount64)));
            if (text is null || match(text))
            {
                return text;
            }
        }

        return null;
    }

    /// <summary>Sends <paramref name="text"/> and returns the reply (null: none within the timeout).</summary>
    public async Task<string?> ExchangeAsync(string text, TimeSpan? timeout = null)
    {
        await SendAsync(text);
        return await ReceiveAsync(timeout);
    }

    public void Dispose() => _socket.Dispose();
}
