using System.Buffers;
using System.IO.Pipelines;
using System.Net.Sockets;
using Microsoft.AspNetCore.Connections;
using Microsoft.AspNetCore.Connections.Features;
using ProxyKestrel.Gateway.Lifecycle;

namespace ProxyKestrel.Gateway.Transports.Sockets;

/// <summary>
/// Relays bytes between a Kestrel client connection and a backend socket, both directions at once, with the pipe's
/// backpressure, without allocating per read, and passing each half-close (FIN) on to the other side. A reset or
/// error on either side closes both (the side that failed first is reported); a side with nothing received from it
/// or sent to it for its timeout (client or server) closes both.
/// </summary>
internal sealed class SocketsRelay
{
    private const int BufferSize = 64 * 1024;

    /// <summary>The least room a receive from the backend gets (the rest of a block, or a new block).</summary>
    private const int MinimumReceiveSize = 16 * 1024;
    private readonly ConnectionContext _client;
    private readonly Socket _backend;
    private readonly TimeSpan _clientTimeout;
    private readonly TimeSpan _serverTimeout;
    private readonly CancellationToken _abort;
    private readonly CancellationTokenSource _cancel;
    private long _bytesUp;
    private long _bytesDown;
    private long _clientActivity;
    private long _serverActivity;

    /// <summary>The first cause of the end other than a normal close (an <see cref="RelayEnd"/>, -1 while none).</summary>
    private int _end = -1;

    public SocketsRelay(ConnectionContext client, Socket backend, TimeSpan clientTimeout, TimeSpan serverTimeout, TimeProvider timeProvider, CancellationToken abort)
    {
        _client = client;
        _backend = backend;
        _clientTimeout = clientTimeout;
        _serverTimeout = serverTimeout;
        _abort = abort;
        _cancel = CancellationTokenSource.CreateLinkedTokenSource(abort);
        TimeProvider = timeProvider;
        _clientActivity = _serverActivity = timeProvider.GetTimestamp();
        IdleTimer = timeProvider.CreateTimer(static state => ((SocketsRelay)state!).OnIdleTimer(), this, Min(clientTimeout, serverTimeout), Timeout.InfiniteTimeSpan);
    }

    private TimeProvider TimeProvider { get; }

    private ITimer IdleTimer { get; }

    public async Task<RelayResult> RunAsync()
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

        int end = Volatile.Read(ref _end);
        return new RelayResult(end < 0 ? RelayEnd.Completed : (RelayEnd)end, Interlocked.Read(ref _bytesUp), Interlocked.Read(ref _bytesDown));
    }

    private async Task PumpClientToBackendAsync()
    {
        PipeReader input = _client.Transport.Input;
        try
        {
            while (true)
            {
                ReadResult read;
                try
                {
                    read = await input.ReadAsync(_cancel.Token).ConfigureAwait(false);
                }
                catch (Exception e) when (IsConnectionEnd(e))
                {
                    Fail(e, RelayEnd.ClientAborted);
                    return;
                }

                ReadOnlySequence<byte> buffer = read.Buffer;
                if (!buffer.IsEmpty)
                {
                    TouchClient();
                }

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
                    TouchServer();
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
            Fail(e, RelayEnd.ServerAborted);
        }
    }

    private Task PumpBackendToClientAsync() =>
        _client.Features.Get<IConnectionSocketFeature>()?.Socket is { } clientSocket
            ? PumpBackendToClientSocketAsync(clientSocket)
            : PumpBackendToClientPipeAsync();

    /// <summary>
    /// Receives from the backend into a pipe of the transport's 64 KiB blocks while a second loop sends from that pipe
    /// straight to the client's socket (nothing else writes to the connection's output), so receiving and sending
    /// overlap as they do in the client-to-backend direction, and the FIN passed on after the backend half-closed
    /// follows every byte (shutting the socket down after a flush of the transport's own output could overtake its
    /// send loop and lose the tail of the data). The pipe's limits are the backpressure: the receive waits while
    /// 256 KiB are unsent.
    /// </summary>
    private async Task PumpBackendToClientSocketAsync(Socket clientSocket)
    {
        MemoryPool<byte> pool = _client.Features.Get<IMemoryPoolFeature>()?.MemoryPool ?? MemoryPool<byte>.Shared;
        var pipe = new Pipe(new PipeOptions(
            pool,
            readerScheduler: PipeScheduler.ThreadPool,
            writerScheduler: PipeScheduler.Inline,
            pauseWriterThreshold: 4 * BufferSize,
            resumeWriterThreshold: 2 * BufferSize,
            minimumSegmentSize: Math.Min(BufferSize, pool.MaxBufferSize),
            useSynchronizationContext: false));
        Task sending = SendToClientAsync(pipe.Reader, clientSocket);
        PipeWriter writer = pipe.Writer;
        Exception? error = null;
        try
        {
            bool filled = false;
            while (true)
            {
                if (!filled)
                {
                    // Wait for data before taking a buffer, so idle connections hold no buffer.
                    await _backend.ReceiveAsync(Memory<byte>.Empty, SocketFlags.None, _cancel.Token).ConfigureAwait(false);
                }

                Memory<byte> memory = writer.GetMemory(MinimumReceiveSize);
                int received = await _backend.ReceiveAsync(memory, SocketFlags.None, _cancel.Token).ConfigureAwait(false);
                if (received == 0)
                {
                    // The backend half-closed: the send loop passes the FIN on once it has sent everything.
                    break;
                }

                // A full buffer means more is probably waiting: receive again at once instead of a zero-byte
                // receive plus a receive.
                filled = received == memory.Length;
                writer.Advance(received);
                TouchServer();
                FlushResult flush = await writer.FlushAsync(_cancel.Token).ConfigureAwait(false);
                if (flush.IsCompleted)
                {
                    // The send loop stopped: the client is gone.
                    break;
                }
            }
        }
        catch (Exception e) when (IsConnectionEnd(e))
        {
            error = e;
            Fail(e, RelayEnd.ServerAborted);
        }
        finally
        {
            await writer.CompleteAsync(error).ConfigureAwait(false);
        }

        await sending.ConfigureAwait(false);
    }

    private async Task SendToClientAsync(PipeReader reader, Socket clientSocket)
    {
        try
        {
            while (true)
            {
                ReadResult read = await reader.ReadAsync().ConfigureAwait(false);
                ReadOnlySequence<byte> buffer = read.Buffer;
                foreach (ReadOnlyMemory<byte> segment in buffer)
                {
                    int sent = 0;
                    while (sent < segment.Length)
                    {
                        sent += await clientSocket.SendAsync(segment[sent..], SocketFlags.None, _cancel.Token).ConfigureAwait(false);
                    }
                }

                if (!buffer.IsEmpty)
                {
                    // Counted once sent, as the epoll transport counts: bytes the client was given.
                    Interlocked.Add(ref _bytesDown, buffer.Length);
                    TouchClient();
                }

                reader.AdvanceTo(buffer.End);
                if (read.IsCompleted)
                {
                    // Every byte the backend sent is out: pass its FIN on to the client.
                    ShutdownSend(clientSocket);
                    return;
                }
            }
        }
        catch (Exception e) when (IsConnectionEnd(e))
        {
            Fail(e, RelayEnd.ClientAborted);
        }
        finally
        {
            await reader.CompleteAsync().ConfigureAwait(false);
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
                TouchServer();
                FlushResult flush = await output.FlushAsync(_cancel.Token).ConfigureAwait(false);
                if (flush.IsCompleted || flush.IsCanceled)
                {
                    // The client is gone.
                    Fail(null, RelayEnd.ClientAborted);
                    return;
                }

                TouchClient();
            }
        }
        catch (Exception e) when (IsConnectionEnd(e))
        {
            Fail(e, RelayEnd.ServerAborted);
        }
    }

    /// <summary>Records traffic on the client side: a timestamp only (the idle timer is not re-armed per read).</summary>
    private void TouchClient() => Volatile.Write(ref _clientActivity, TimeProvider.GetTimestamp());

    private void TouchServer() => Volatile.Write(ref _serverActivity, TimeProvider.GetTimestamp());

    /// <summary>
    /// The idle timer fired: close both sides if a side was quiet for its timeout (the client side first, as HAProxy
    /// reports it when both are), else wait for the rest of the nearer timeout counted from the last traffic.
    /// </summary>
    private void OnIdleTimer()
    {
        TimeSpan clientLeft = _clientTimeout - TimeProvider.GetElapsedTime(Volatile.Read(ref _clientActivity));
        TimeSpan serverLeft = _serverTimeout - TimeProvider.GetElapsedTime(Volatile.Read(ref _serverActivity));
        if (clientLeft <= TimeSpan.Zero || serverLeft <= TimeSpan.Zero)
        {
            End(clientLeft <= TimeSpan.Zero ? RelayEnd.ClientTimeout : RelayEnd.ServerTimeout);
            Cancel();
            return;
        }

        try
        {
            IdleTimer.Change(Min(clientLeft, serverLeft), Timeout.InfiniteTimeSpan);
        }
        catch (ObjectDisposedException)
        {
            // The relay has finished.
        }
    }

    /// <summary>
    /// A side failed (<paramref name="side"/>: the one whose receive or send failed); a cancellation is the cause
    /// recorded before it, or the drain's kill.
    /// </summary>
    private void Fail(Exception? e, RelayEnd side)
    {
        End(e is OperationCanceledException ? (_abort.IsCancellationRequested ? RelayEnd.Killed : side) : side);
        Cancel();
    }

    /// <summary>Keeps the first cause only: what follows (the other side's cancelled operations) is its effect.</summary>
    private void End(RelayEnd end) => Interlocked.CompareExchange(ref _end, (int)end, -1);

    private static TimeSpan Min(TimeSpan a, TimeSpan b) => a < b ? a : b;

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
