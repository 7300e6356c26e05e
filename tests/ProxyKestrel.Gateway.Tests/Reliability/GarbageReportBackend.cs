using System.Buffers;
using System.Buffers.Binary;
using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Text;

namespace ProxyKestrel.Gateway.Tests.Reliability;

/// <summary>
/// A backend behind a gateway cluster with <c>"ProxyProtocol": "v2"</c>: reads the gateway's header and answers
/// <c>SRC address\n</c> (the client address the gateway believes), half-closes, drains until the client's close.
/// </summary>
internal sealed class ReportBackend : IAsyncDisposable
{
    private readonly TcpListener _listener = new(IPAddress.Loopback, 0);
    private readonly CancellationTokenSource _stop = new();
    private readonly Task _loop;
    private long _accepted;
    private long _badHeaders;

    public ReportBackend()
    {
        _listener.Start(1024);
        _loop = AcceptAsync();
    }

    public int Port => ((IPEndPoint)_listener.LocalEndpoint).Port;

    public long Accepted => Interlocked.Read(ref _accepted);

    /// <summary>Connections whose first bytes were not a complete, valid header from the gateway.</summary>
    public long BadHeaders => Interlocked.Read(ref _badHeaders);

    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync();
        _listener.Stop();
        try
        {
            await _loop;
        }
        catch (Exception)
        {
            // Stopped.
        }

        _stop.Dispose();
    }

    private async Task AcceptAsync()
    {
        while (!_stop.IsCancellationRequested)
        {
            Socket socket = await _listener.AcceptSocketAsync(_stop.Token);
            Interlocked.Increment(ref _accepted);
            _ = ServeAsync(socket);
        }
    }

    private async Task ServeAsync(Socket socket)
    {
        using (socket)
        {
            using var cts = CancellationTokenSource.CreateLinkedTokenSource(_stop.Token);
            cts.CancelAfter(TimeSpan.FromSeconds(30));
            byte[] buffer = new byte[8192];
            int filled = 0;
            try
            {
                while (true)
                {
                    int n = await socket.ReceiveAsync(buffer.AsMemory(filled), SocketFlags.None, cts.Token);
                    if (n == 0)
                    {
                        Interlocked.Increment(ref _badHeaders);
                        return;
                    }

                    filled += n;
                    ProxyParseStatus status = ProxyHeaderParser.Parse(new ReadOnlySequence<byte>(buffer, 0, filled), out ProxyHeader header, out _);
                    if (status == ProxyParseStatus.NeedMoreData && filled < buffer.Length)
                    {
                        continue;
                    }

                    if (status != ProxyParseStatus.Complete)
                    {
                        Interlocked.Increment(ref _badHeaders);
                        return;
                    }

                    string source = header.HasIPEndPoints ? header.GetSourceAddress()!.ToString() : "none";
                    await socket.SendAsync(Encoding.ASCII.GetBytes($"SRC {source}\n").AsMemory(), SocketFlags.None, cts.Token);
                    socket.Shutdown(SocketShutdown.Send);
                    while (await socket.ReceiveAsync(buffer.AsMemory(), SocketFlags.None, cts.Token) > 0)
                    {
                    }

                    return;
                }
            }
            catch (Exception e) when (e is SocketException or OperationCanceledException or ObjectDisposedException)
            {
                // The gateway went away or the backend stops.
            }
        }
    }
}
