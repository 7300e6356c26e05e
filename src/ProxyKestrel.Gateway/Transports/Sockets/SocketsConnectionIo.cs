using System.Buffers;
using System.IO.Pipelines;
using System.Net;
using System.Net.Sockets;
using Microsoft.AspNetCore.Connections;
using ProxyKestrel.Gateway.Lifecycle;
using ProxyKestrel.Gateway.Transports.Streams;

namespace ProxyKestrel.Gateway.Transports.Sockets;

/// <summary>
/// The portable transport's I/O for one connection: the client is a Kestrel connection (its input pipe holds what
/// the lifecycle reads before the backend connection, unconsumed), the backend a <see cref="Socket"/>, the relay
/// <see cref="SocketsRelay"/>. <c>abort</c> (the end of a drain that timed out) ends any operation with "killed".
/// </summary>
internal sealed class SocketsConnectionIo : ITcpConnectionIo
{
    private readonly ConnectionContext _connection;
    private readonly TimeProvider _time;
    private readonly CancellationToken _abort;
    private ReadOnlySequence<byte> _held;
    private bool _holding;
    private readonly TaskCompletionSource _ended = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private Socket? _backend;

    public SocketsConnectionIo(ConnectionContext connection, TimeProvider timeProvider, CancellationToken abort)
    {
        _connection = connection;
        _time = timeProvider;
        _abort = abort;
    }

    public EndPoint? RemoteEndPoint => _connection.RemoteEndPoint;

    public EndPoint? LocalEndPoint => _connection.LocalEndPoint;

    public string ConnectionId => _connection.ConnectionId;

    public ReadOnlySequence<byte> Received => _holding ? _held : default;

    public async ValueTask<ReceiveStatus> ReceiveAsync(long deadline)
    {
        PipeReader input = _connection.Transport.Input;
        if (_holding)
        {
            // Everything held was looked at: wait for more.
            input.AdvanceTo(_held.Start, _held.End);
            _holding = false;
        }

        TimeSpan wait = BackendSocket.Remaining(_time, deadline);
        using ITimer? timer = wait == Timeout.InfiniteTimeSpan
            ? null
            : _time.CreateTimer(static state => ((PipeReader)state!).CancelPendingRead(), input, wait, Timeout.InfiniteTimeSpan);
        ReadResult read;
        try
        {
            read = await input.ReadAsync(_abort).ConfigureAwait(false);
        }
        catch (OperationCanceledException)
        {
            return ReceiveStatus.Killed;
        }
        catch (Exception e) when (e is IOException or ConnectionResetException or ConnectionAbortedException or SocketException or ObjectDisposedException)
        {
            return ReceiveStatus.Reset;
        }

        _held = read.Buffer;
        _holding = true;
        if (read.IsCompleted)
        {
            return ReceiveStatus.Ended;
        }

        // A cancelled read is the deadline's timer, or one that fired late for an earlier wait: look again.
        return read.IsCanceled && _time.GetTimestamp() >= deadline ? ReceiveStatus.TimedOut : ReceiveStatus.Received;
    }

    public ValueTask<ConnectResult> ResolveAsync(string host, long deadline) => BackendSocket.ResolveAsync(host, deadline, _time, _abort);

    public async ValueTask<ConnectResult> ConnectAsync(IPEndPoint endPoint, long deadline)
    {
        _backend?.Dispose();
        (ConnectResult result, Socket? socket) = await BackendSocket.ConnectAsync(endPoint, deadline, _time, _abort).ConfigureAwait(false);
        _backend = socket;
        return result;
    }

    /// <summary>The Kestrel connection's pipes as one stream; the bytes held move into the stream I/O.</summary>
    public IStreamConnectionIo DetachToStreams()
    {
        byte[] held = [];
        if (_holding)
        {
            held = _held.ToArray();
            _connection.Transport.Input.AdvanceTo(_held.End);
            _holding = false;
        }

        var client = new DetachedClient(
            new DuplexPipeStream(_connection.Transport),
            // Completing the output flushes it, then closes the connection (as the relay's pipe path does).
            async () => await _connection.Transport.Output.CompleteAsync().ConfigureAwait(false),
            mode =>
            {
                if (mode == CloseMode.Reset)
                {
                    _connection.Abort();
                }
            },
            Ended);
        return new StreamConnectionIo(client, held, RemoteEndPoint, LocalEndPoint, ConnectionId, _time, _abort);
    }

    public void StartRelay(ReadOnlyMemory<byte> header, int skip, TimeSpan clientTimeout, TimeSpan serverTimeout, IRelayEnded ended) =>
        _ = RelayAsync(header, skip, clientTimeout, serverTimeout, ended);

    private async Task RelayAsync(ReadOnlyMemory<byte> header, int skip, TimeSpan clientTimeout, TimeSpan serverTimeout, IRelayEnded ended)
    {
        RelayResult result;
        try
        {
            result = await SendHeaderThenRelayAsync(header, skip, clientTimeout, serverTimeout).ConfigureAwait(false);
        }
        catch (Exception e) when (e is not OutOfMemoryException)
        {
            // Not a network event (those are results) but a bug: end the connection as a reset all the same.
            result = new RelayResult(RelayEnd.ClientAborted, 0, 0);
        }

        ended.RelayEnded(result);
    }

    private async Task<RelayResult> SendHeaderThenRelayAsync(ReadOnlyMemory<byte> header, int skip, TimeSpan clientTimeout, TimeSpan serverTimeout)
    {
        Socket backend = _backend!;
        try
        {
            while (!header.IsEmpty)
            {
                header = header[await backend.SendAsync(header, SocketFlags.None, _abort).ConfigureAwait(false)..];
            }
        }
        catch (OperationCanceledException)
        {
            return new RelayResult(RelayEnd.Killed, 0, 0);
        }
        catch (Exception e) when (e is SocketException or ObjectDisposedException)
        {
            return new RelayResult(RelayEnd.ServerAborted, 0, 0);
        }

        if (_holding)
        {
            // Consume the upstream header; what the client sent after it is relayed from the pipe.
            _connection.Transport.Input.AdvanceTo(_held.GetPosition(skip));
            _holding = false;
        }

        var relay = new SocketsRelay(_connection, backend, clientTimeout, serverTimeout, _time, _abort);
        return await relay.RunAsync().ConfigureAwait(false);
    }

    /// <summary>
    /// A reset aborts the Kestrel connection (an RST); any other end leaves the close to the listener's dispose of the
    /// connection, a FIN, as the epoll transport closes.
    /// </summary>
    public void Close(CloseMode mode)
    {
        if (_holding)
        {
            // Ended before the relay (refused, no destination): give the held bytes back before the pipe completes.
            _connection.Transport.Input.AdvanceTo(_held.Start);
            _holding = false;
        }

        if (mode == CloseMode.Reset)
        {
            _connection.Abort();
        }

        _backend?.Dispose();
        _backend = null;
    }

    /// <summary>The connection's end is recorded: the listener may dispose the Kestrel connection.</summary>
    public void Ended() => _ended.TrySetResult();

    /// <summary>Completes once <see cref="Ended"/> was called (after the relay, when one ran).</summary>
    public Task WhenEnded => _ended.Task;
}
