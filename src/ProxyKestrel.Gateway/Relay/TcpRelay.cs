using System.Buffers;
using System.IO.Pipelines;
using System.Net.Sockets;
using Microsoft.AspNetCore.Connections;
using Microsoft.AspNetCore.Connections.Features;

namespace ProxyKestrel.Gateway.Relay;

/// <summary>
/// Relays bytes between a Kestrel client connection and a backend socket, both directions at once, with the pipe's
/// backpressure, without allocating per read, and passing each half-close (FIN) on to the other side. A reset or
/// error on either side closes both; <see cref="IdleTimeout"/> without traffic in either direction closes both.
/// </summary>
internal sealed class TcpRelay
{
    private const int BufferSize = 64 * 1024;
    private readonly ConnectionContext _client;
    private readonly Socket _backend;
    private readonly TimeSpan _idleTimeout;
    private readonly CancellationTokenSource _cancel;
    private long _bytesUp;
    private long _bytesDown;

    public TcpRelay(ConnectionContext client, Socket backend, TimeSpan idleTimeout, TimeProvider timeProvider, CancellationToken abort)
    {
        _client = client;
        _backend = backend;
        _idleTimeout = idleTimeout;
        _cancel = CancellationTokenSource.CreateLinkedTokenSource(abort);
        TimeProvider = timeProvider;
        IdleTimer = timeProvider.CreateTimer(static state => ((TcpRelay)state!).OnIdle(), this, idleTimeout, Timeout.InfiniteTimeSpan);
    }

    public TimeSpan IdleTimeout => _idleTimeout;

    public long BytesUp => Interlocked.Read(ref _bytesUp);

    public long BytesDown => Interlocked.Read(ref _bytesDown);

    /// <summary>Why the relay ended: "completed" (both sides closed normally), "idle_timeout", "reset", "aborted".</summary>
    public string Outcome { get; private set; } = "completed";

    private TimeProvider TimeProvider { get; }

    private ITimer IdleTimer { get; }

    public async Task RunAsync()
    {
        try
        {
            Task up = PumpClientToBackendAsync();
            Task down = PumpBackendToClientAsync();
            await Task.WhenAll(up, down).ConfigureAwait(false);
        }
        finally
        {
            await IdleTimer.DisposeAsync().ConfigureAwait(false);
            _cancel.Dispose();
        }
    }

    private async Task PumpClientToBackendAsync()
    {
        PipeReader input = _client.Transport.Input;
        try
        {
            while (true)
            {
                ReadResult read = await input.ReadAsync(_cancel.Token).ConfigureAwait(false);
                ReadOnlySequence<byte> buffer = read.Buffer;
                foreach (ReadOnlyMemory<byte> segment in buffer)
                {
                    int sent = 0;
                    while (sent < segment.Length)
                    {
                        sent += await _backend.SendAsync(segment[sent..], SocketFlags.None, _cancel.Token).ConfigureAwait(false);
                    }
                }

                if (!buffer.IsEmpty)
                {
                    Interlocked.Add(ref _bytesUp, buffer.Length);
                    Touch();
                }

                input.AdvanceTo(buffer.End);
                // IsCanceled alone is a leftover CancelPendingRead (the SNI peek's timer): keep reading.
                if (read.IsCompleted)
                {
                    // The client half-closed: pass the FIN on, keep reading the backend's answer.
                    ShutdownSend(_backend);
                    return;
                }
            }
        }
        catch (Exception e) when (IsConnectionEnd(e))
        {
            Fail(e);
        }
    }

    private Task PumpBackendToClientAsync() =>
        _client.Features.Get<IConnectionSocketFeature>()?.Socket is { } clientSocket
            ? PumpBackendToClientSocketAsync(clientSocket)
            : PumpBackendToClientPipeAsync();

    /// <summary>
    /// Writes straight to the client's socket (nothing else writes to the connection's output), so the FIN passed on
    /// after the backend half-closed follows every byte: shutting the socket down after a pipe flush could overtake
    /// the transport's send loop and lose the tail of the data.
    /// </summary>
    private async Task PumpBackendToClientSocketAsync(Socket clientSocket)
    {
        try
        {
            while (true)
            {
                // Wait for data before taking a buffer, so idle connections hold no buffer.
                await _backend.ReceiveAsync(Memory<byte>.Empty, SocketFlags.None, _cancel.Token).ConfigureAwait(false);
                byte[] buffer = ArrayPool<byte>.Shared.Rent(BufferSize);
                try
                {
                    int received = await _backend.ReceiveAsync(buffer, SocketFlags.None, _cancel.Token).ConfigureAwait(false);
                    if (received == 0)
                    {
                        // The backend half-closed: pass the FIN on to the client, after all the data.
                        ShutdownSend(clientSocket);
                        return;
                    }

                    int sent = 0;
                    while (sent < received)
                    {
                        sent += await clientSocket.SendAsync(buffer.AsMemory(sent, received - sent), SocketFlags.None, _cancel.Token).ConfigureAwait(false);
                    }

                    Interlocked.Add(ref _bytesDown, received);
                    Touch();
                }
                finally
                {
                    ArrayPool<byte>.Shared.Return(buffer);
                }
            }
        }
        catch (Exception e) when (IsConnectionEnd(e))
        {
            Fail(e);
        }
    }

    private async Task PumpBackendToClientPipeAsync()
    {
        PipeWriter output = _client.Transport.Output;
        try
        {
            while (true)
            {
                // Wait for data before taking a buffer, so idle connections hold no buffer.
                await _backend.ReceiveAsync(Memory<byte>.Empty, SocketFlags.None, _cancel.Token).ConfigureAwait(false);
                Memory<byte> memory = output.GetMemory();
                int received = await _backend.ReceiveAsync(memory, SocketFlags.None, _cancel.Token).ConfigureAwait(false);
                if (received == 0)
                {
                    // The backend half-closed: completing the output flushes it, then closes the client connection.
                    await output.CompleteAsync().ConfigureAwait(false);
                    return;
                }

                output.Advance(received);
                Interlocked.Add(ref _bytesDown, received);
                Touch();
                FlushResult flush = await output.FlushAsync(_cancel.Token).ConfigureAwait(false);
                if (flush.IsCompleted || flush.IsCanceled)
                {
                    // The client is gone.
                    Fail(null);
                    return;
                }
            }
        }
        catch (Exception e) when (IsConnectionEnd(e))
        {
            Fail(e);
        }
    }

    private void Touch() => IdleTimer.Change(_idleTimeout, Timeout.InfiniteTimeSpan);

    private void OnIdle()
    {
        Outcome = "idle_timeout";
        Cancel();
    }

    private void Fail(Exception? e)
    {
        if (Outcome == "completed")
        {
            Outcome = e is OperationCanceledException ? "aborted" : "reset";
        }

        Cancel();
    }

    private void Cancel()
    {
        try
        {
            _cancel.Cancel();
        }
        catch (ObjectDisposedException)
        {
            // Already finished.
        }
    }

    private static void ShutdownSend(Socket socket)
    {
        try
        {
            socket.Shutdown(SocketShutdown.Send);
        }
        catch (SocketException)
        {
            // Already reset.
        }
        catch (ObjectDisposedException)
        {
            // Already closed.
        }
    }

    private static bool IsConnectionEnd(Exception e) =>
        e is OperationCanceledException or SocketException or ObjectDisposedException or ConnectionResetException or ConnectionAbortedException or IOException or InvalidOperationException;
}
