using System.Buffers;
using System.Net.Sockets;
using ProxyKestrel.Gateway.Lifecycle;

namespace ProxyKestrel.Gateway.Transports.Streams;

/// <summary>
/// Relays bytes between a client stream (TLS or not) and a backend socket, both directions at once, passing each
/// half-close on after the data. A failure on either side closes both (the side that failed first is reported); a
/// side with nothing received from it or sent to it for its timeout closes both, as the other transports' relays do.
/// </summary>
internal sealed class StreamRelay
{
    private const int BufferSize = 16 * 1024;
    private readonly Stream _client;
    private readonly DetachedClient _clientConnection;
    private readonly Socket _backend;
    private readonly TimeSpan _clientTimeout;
    private readonly TimeSpan _serverTimeout;
    private readonly TimeProvider _time;
    private readonly CancellationToken _killed;
    private readonly CancellationTokenSource _cancel;
    private readonly ITimer _idleTimer;
    private long _bytesUp;
    private long _bytesDown;
    private long _clientActivity;
    private long _serverActivity;

    /// <summary>The backend's FIN was passed on: a Kestrel client connection closes whole then, so its reads end in an error.</summary>
    private volatile bool _finSentToClient;

    /// <summary>The first cause of the end other than a normal close (a <see cref="RelayEnd"/>, -1 while none).</summary>
    private int _end = -1;

    public StreamRelay(Stream client, DetachedClient clientConnection, Socket backend, TimeSpan clientTimeout, TimeSpan serverTimeout, TimeProvider timeProvider, CancellationToken killed)
    {
        _client = client;
        _clientConnection = clientConnection;
        _backend = backend;
        _clientTimeout = clientTimeout;
        _serverTimeout = serverTimeout;
        _time = timeProvider;
        _killed = killed;
        _cancel = CancellationTokenSource.CreateLinkedTokenSource(killed);
        _clientActivity = _serverActivity = timeProvider.GetTimestamp();
        _idleTimer = timeProvider.CreateTimer(static state => ((StreamRelay)state!).OnIdleTimer(), this, Min(clientTimeout, serverTimeout), Timeout.InfiniteTimeSpan);
    }

    public async Task<RelayResult> RunAsync()
    {
        try
        {
            await Task.WhenAll(UpAsync(), DownAsync()).ConfigureAwait(false);
        }
        finally
        {
            await _idleTimer.DisposeAsync().ConfigureAwait(false);
            _cancel.Dispose();
        }

        int end = Volatile.Read(ref _end);
        return new RelayResult(end < 0 ? RelayEnd.Completed : (RelayEnd)end, Interlocked.Read(ref _bytesUp), Interlocked.Read(ref _bytesDown));
    }

    private async Task UpAsync()
    {
        byte[] buffer = ArrayPool<byte>.Shared.Rent(BufferSize);
        bool receiving = true;
        try
        {
            while (true)
            {
                int count = await _client.ReadAsync(buffer, _cancel.Token).ConfigureAwait(false);
                if (count == 0)
                {
                    // The client half-closed: pass the FIN on, the backend's answer still flows down.
                    _backend.Shutdown(SocketShutdown.Send);
                    return;
                }

                Touch(ref _clientActivity);
                receiving = false;
                int sent = 0;
                while (sent < count)
                {
                    sent += await _backend.SendAsync(buffer.AsMemory(sent, count - sent), SocketFlags.None, _cancel.Token).ConfigureAwait(false);
                }

                receiving = true;
                Interlocked.Add(ref _bytesUp, count);
                Touch(ref _serverActivity);
            }
        }
        catch (Exception e) when (IsConnectionEnd(e))
        {
            if (receiving && _finSentToClient && !_cancel.IsCancellationRequested)
            {
                // The end of the close the backend's FIN started (Kestrel ends the reads with an abort), not the
                // client's failure.
                return;
            }

            Fail(e, receiving ? RelayEnd.ClientAborted : RelayEnd.ServerAborted);
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(buffer);
        }
    }

    private async Task DownAsync()
    {
        byte[] buffer = ArrayPool<byte>.Shared.Rent(BufferSize);
        bool receiving = true;
        try
        {
            while (true)
            {
                int count = await _backend.ReceiveAsync(buffer, SocketFlags.None, _cancel.Token).ConfigureAwait(false);
                if (count == 0)
                {
                    // The backend half-closed: pass the FIN on to the client after everything sent.
                    receiving = false;
                    _finSentToClient = true;
                    await _clientConnection.ShutdownSendAsync().ConfigureAwait(false);
                    return;
                }

                Touch(ref _serverActivity);
                receiving = false;
                await _client.WriteAsync(buffer.AsMemory(0, count), _cancel.Token).ConfigureAwait(false);
                await _client.FlushAsync(_cancel.Token).ConfigureAwait(false);
                receiving = true;
                Interlocked.Add(ref _bytesDown, count);
                Touch(ref _clientActivity);
            }
        }
        catch (Exception e) when (IsConnectionEnd(e))
        {
            Fail(e, receiving ? RelayEnd.ServerAborted : RelayEnd.ClientAborted);
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(buffer);
        }
    }

    private void Touch(ref long activity) => Volatile.Write(ref activity, _time.GetTimestamp());

    /// <summary>Closes both sides when one was quiet for its timeout (the client's first), else waits for the nearer one.</summary>
    private void OnIdleTimer()
    {
        TimeSpan clientLeft = _clientTimeout - _time.GetElapsedTime(Volatile.Read(ref _clientActivity));
        TimeSpan serverLeft = _serverTimeout - _time.GetElapsedTime(Volatile.Read(ref _serverActivity));
        if (clientLeft <= TimeSpan.Zero || serverLeft <= TimeSpan.Zero)
        {
            Interlocked.CompareExchange(ref _end, (int)(clientLeft <= TimeSpan.Zero ? RelayEnd.ClientTimeout : RelayEnd.ServerTimeout), -1);
            Cancel();
            return;
        }

        try
        {
            _idleTimer.Change(Min(clientLeft, serverLeft), Timeout.InfiniteTimeSpan);
        }
        catch (ObjectDisposedException)
        {
            // The relay has finished.
        }
    }

    /// <summary>A side failed; a cancellation is the cause recorded before it, or the kill.</summary>
    private void Fail(Exception e, RelayEnd side)
    {
        RelayEnd end = e is OperationCanceledException && _killed.IsCancellationRequested ? RelayEnd.Killed : side;
        Interlocked.CompareExchange(ref _end, (int)end, -1);
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

    private static TimeSpan Min(TimeSpan a, TimeSpan b) => a < b ? a : b;

    private static bool IsConnectionEnd(Exception e) =>
        e is OperationCanceledException or SocketException or ObjectDisposedException or IOException or InvalidOperationException;
}
