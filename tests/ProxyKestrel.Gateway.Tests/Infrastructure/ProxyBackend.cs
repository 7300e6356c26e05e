using System.Buffers;
using System.Collections.Concurrent;
using System.Net;
using System.Net.Sockets;

namespace ProxyKestrel.Gateway.Tests.Infrastructure;

/// <summary>What a <see cref="ProxyBackend"/> saw on one connection.</summary>
public sealed record BackendConnection(
    ProxyProtocolVersion? Version,
    IPEndPoint? Source,
    IPEndPoint? Destination,
    IReadOnlyList<(byte Type, byte[] Value)> Tlvs,
    IPEndPoint Peer);

/// <summary>
/// A backend on 127.0.0.1:0 that reads a PROXY header with our codec (when <c>expectHeader</c>), records it, optionally
/// speaks first (<c>banner</c>), then echoes every byte back until the client half-closes, and half-closes in turn.
/// </summary>
public sealed class ProxyBackend : IAsyncDisposable
{
    private readonly Socket _listener;
    private readonly bool _expectHeader;
    private readonly byte[]? _banner;
    private readonly CancellationTokenSource _stop = new();
    private readonly Task _acceptLoop;
    private readonly ConcurrentBag<Socket> _open = [];
    private int _closed;

    public ProxyBackend(bool expectHeader = true, string? banner = null, IPAddress? address = null)
    {
        _expectHeader = expectHeader;
        _banner = banner is null ? null : System.Text.Encoding.ASCII.GetBytes(banner);
        address ??= IPAddress.Loopback;
        _listener = new Socket(address.AddressFamily, SocketType.Stream, ProtocolType.Tcp);
        _listener.Bind(new IPEndPoint(address, 0));
        _listener.Listen(512);
        EndPoint = (IPEndPoint)_listener.LocalEndPoint!;
        _acceptLoop = AcceptLoopAsync();
    }

    /// <summary>Where the backend listens.</summary>
    public IPEndPoint EndPoint { get; }

    /// <summary>The destination address for the gateway's configuration, e.g. <c>tcp://127.0.0.1:PORT</c>.</summary>
    public string Address => EndPoint.AddressFamily == AddressFamily.InterNetworkV6 ? $"tcp://[{EndPoint.Address}]:{EndPoint.Port}" : $"tcp://{EndPoint}";

    /// <summary>Every connection's header, in arrival order of completion.</summary>
    public ConcurrentQueue<BackendConnection> Connections { get; } = new();

    /// <summary>Raised bytes: the raw prefix received before the first echo, for tests checking "header before any client byte".</summary>
    public ConcurrentQueue<Exception> Errors { get; } = new();

    /// <summary>How many connections have ended (the gateway closed or reset them, or they failed).</summary>
    public int ClosedConnections => Volatile.Read(ref _closed);

    /// <summary>Waits until <paramref name="count"/> connections have been seen.</summary>
    public async Task<BackendConnection> WaitForConnectionAsync(int count = 1, TimeSpan? timeout = null)
    {
        long deadline = Environment.TickCount64 + (long)(timeout ?? TimeSpan.FromSeconds(10)).TotalMilliseconds;
        while (Connections.Count < count)
        {
            if (Environment.TickCount64 > deadline)
            {
                throw new TimeoutException($"Only {Connections.Count} of {count} backend connections arrived.");
            }

            await Task.Delay(10);
        }

        return Connections.ToArray()[count - 1];
    }

    /// <summary>Closes every open backend connection abruptly (RST), as a crashed backend would.</summary>
    public void KillConnections()
    {
        foreach (Socket socket in _open)
        {
            try
            {
                socket.LingerState = new LingerOption(true, 0);
                socket.Close();
            }
            catch (ObjectDisposedException)
            {
            }
        }
    }

    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync();
        _listener.Dispose();
        KillConnections();
        try
        {
            await _acceptLoop;
        }
        catch (Exception e) when (e is OperationCanceledException or SocketException or ObjectDisposedException)
        {
        }

        _stop.Dispose();
    }

    private async Task AcceptLoopAsync()
    {
        while (!_stop.IsCancellationRequested)
        {
            Socket socket;
            try
            {
                socket = await _listener.AcceptAsync(_stop.Token);
            }
            catch (Exception e) when (e is OperationCanceledException or SocketException or ObjectDisposedException)
            {
                return;
            }

            _open.Add(socket);
            _ = Task.Run(() => ServeAsync(socket));
        }
    }

    private async Task ServeAsync(Socket socket)
    {
        try
        {
            using (socket)
            {
                if (_banner is not null)
                {
                    await socket.SendAsync(_banner);
                }

                byte[] buffer = new byte[64 * 1024];
                int filled = 0;
                BackendConnection seen = new(null, null, null, [], (IPEndPoint)socket.RemoteEndPoint!);
                if (_expectHeader)
                {
                    while (true)
                    {
                        int n = await socket.ReceiveAsync(buffer.AsMemory(filled), SocketFlags.None, _stop.Token);
                        if (n == 0)
                        {
                            throw new InvalidOperationException("closed before a complete PROXY header");
                        }

                        filled += n;
                        var sequence = new ReadOnlySequence<byte>(buffer, 0, filled);
                        ProxyParseStatus status = ProxyHeaderParser.Parse(sequence, out ProxyHeader header, out ProxyParseError error);
                        if (status == ProxyParseStatus.Invalid)
                        {
                            throw new InvalidOperationException("invalid PROXY header: " + error.Describe());
                        }

                        if (status == ProxyParseStatus.Complete)
                        {
                            var tlvs = new List<(byte, byte[])>();
                            foreach (ProxyTlv tlv in header.Tlvs)
                            {
                                tlvs.Add((tlv.Type, tlv.Value.ToArray()));
                            }

                            seen = new BackendConnection(header.Version, header.GetSourceEndPoint(), header.GetDestinationEndPoint(), tlvs, seen.Peer);
                            int rest = filled - header.Length;
                            Buffer.BlockCopy(buffer, header.Length, buffer, 0, rest);
                            filled = rest;
                            break;
                        }
                    }
                }

                Connections.Enqueue(seen);
                if (filled > 0)
                {
                    await SendAllAsync(socket, buffer.AsMemory(0, filled));
                }

                while (true)
                {
                    int n = await socket.ReceiveAsync(buffer, SocketFlags.None, _stop.Token);
                    if (n == 0)
                    {
                        socket.Shutdown(SocketShutdown.Send);
                        return;
                    }

                    await SendAllAsync(socket, buffer.AsMemory(0, n));
                }
            }
        }
        catch (Exception e) when (e is SocketException or OperationCanceledException or ObjectDisposedException or InvalidOperationException)
        {
            Errors.Enqueue(e);
        }
        finally
        {
            Interlocked.Increment(ref _closed);
        }
    }

    private static async Task SendAllAsync(Socket socket, ReadOnlyMemory<byte> data)
    {
        while (!data.IsEmpty)
        {
            int sent = await socket.SendAsync(data, SocketFlags.None);
            data = data[sent..];
        }
    }
}
