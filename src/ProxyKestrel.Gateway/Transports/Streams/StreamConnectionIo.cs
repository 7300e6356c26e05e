using System.Buffers;
using System.Net;
using System.Net.Security;
using System.Net.Sockets;
using System.Security.Authentication;
using System.Security.Cryptography.X509Certificates;
using ProxyKestrel.Gateway.Lifecycle;

namespace ProxyKestrel.Gateway.Transports.Streams;

/// <summary>
/// A connection off its transport's own I/O (<see cref="ITcpConnectionIo.DetachToStreams"/>): the client as a stream
/// (TLS on it when asked), the backend a <see cref="Socket"/>, the relay <see cref="StreamRelay"/>. The same on both
/// transports; every operation is bounded by its deadline and by the kill (the end of a drain that timed out).
/// </summary>
internal sealed class StreamConnectionIo : IStreamConnectionIo
{
    /// <summary>The most bytes held from one side before they are handled (a mail command line is far shorter).</summary>
    private const int MaxHeld = TcpConnectionLifecycle.MaxInspectBytes;

    private readonly DetachedClient _client;
    private readonly TimeProvider _time;
    private readonly CancellationToken _killed;
    private Stream _clientStream;
    private SslStream? _tls;
    private Socket? _backend;
    private readonly ReceiveBuffer _fromClient = new();
    private readonly ReceiveBuffer _fromBackend = new();
    private bool _closed;

    public StreamConnectionIo(
        DetachedClient client,
        ReadOnlySpan<byte> received,
        EndPoint? remoteEndPoint,
        EndPoint? localEndPoint,
        string connectionId,
        TimeProvider timeProvider,
        CancellationToken killed)
    {
        _client = client;
        _clientStream = client.Stream;
        _time = timeProvider;
        _killed = killed;
        RemoteEndPoint = remoteEndPoint;
        LocalEndPoint = localEndPoint;
        ConnectionId = connectionId;
        if (!received.IsEmpty)
        {
            Memory<byte> space = _fromClient.Space(Math.Max(MaxHeld, received.Length));
            received.CopyTo(space.Span);
            _fromClient.Received(received.Length);
        }
    }

    public EndPoint? RemoteEndPoint { get; }

    public EndPoint? LocalEndPoint { get; }

    public string ConnectionId { get; }

    public bool TlsActive => _tls is not null;

    public ReadOnlySequence<byte> Received => _fromClient.Held;

    public ReadOnlySequence<byte> BackendReceived => _fromBackend.Held;

    public IStreamConnectionIo DetachToStreams() => this;

    public void Consume(long count) => _fromClient.Consume(count);

    public void ConsumeBackend(long count) => _fromBackend.Consume(count);

    public ValueTask<ReceiveStatus> ReceiveAsync(long deadline) => ReceiveAsync(_clientStream, null, _fromClient, deadline);

    public ValueTask<ReceiveStatus> ReceiveFromBackendAsync(long deadline) =>
        _backend is null ? new ValueTask<ReceiveStatus>(ReceiveStatus.Reset) : ReceiveAsync(null, _backend, _fromBackend, deadline);

    public async ValueTask<bool> SendToClientAsync(ReadOnlyMemory<byte> data, long deadline)
    {
        using var timeout = Timeout(deadline, out CancellationToken token);
        try
        {
            await _clientStream.WriteAsync(data, token).ConfigureAwait(false);
            await _clientStream.FlushAsync(token).ConfigureAwait(false);
            return true;
        }
        catch (Exception e) when (IsConnectionEnd(e))
        {
            return false;
        }
    }

    public async ValueTask<bool> SendToBackendAsync(ReadOnlyMemory<byte> data, long deadline)
    {
        if (_backend is not { } backend)
        {
            return false;
        }

        using var timeout = Timeout(deadline, out CancellationToken token);
        try
        {
            while (!data.IsEmpty)
            {
                data = data[await backend.SendAsync(data, SocketFlags.None, token).ConfigureAwait(false)..];
            }

            return true;
        }
        catch (Exception e) when (IsConnectionEnd(e))
        {
            return false;
        }
    }

    public async ValueTask<string?> StartTlsAsync(X509Certificate2 certificate, bool keepReceived, long deadline)
    {
        Stream inner = _clientStream;
        if (keepReceived && !_fromClient.Held.IsEmpty)
        {
            inner = new PrefixedStream(_fromClient.Held.ToArray(), inner);
        }

        _fromClient.Consume(_fromClient.Held.Length);
        var tls = new SslStream(inner, leaveInnerStreamOpen: false);
        using var timeout = Timeout(deadline, out CancellationToken token);
        try
        {
            await tls.AuthenticateAsServerAsync(
                new SslServerAuthenticationOptions { ServerCertificate = certificate, ClientCertificateRequired = false },
                token).ConfigureAwait(false);
        }
        catch (Exception e) when (IsConnectionEnd(e) || e is AuthenticationException)
        {
            await tls.DisposeAsync().ConfigureAwait(false);
            return e is OperationCanceledException ? (_killed.IsCancellationRequested ? "killed" : "the TLS handshake timed out") : e.Message;
        }

        _tls = tls;
        _clientStream = tls;
        return null;
    }

    public ValueTask<ConnectResult> ResolveAsync(string host, long deadline) => BackendSocket.ResolveAsync(host, deadline, _time, _killed);

    public async ValueTask<ConnectResult> ConnectAsync(IPEndPoint endPoint, long deadline)
    {
        CloseBackend();
        (ConnectResult result, Socket? socket) = await BackendSocket.ConnectAsync(endPoint, deadline, _time, _killed).ConfigureAwait(false);
        _backend = socket;
        return result;
    }

    public void CloseBackend()
    {
        _backend?.Dispose();
        _backend = null;
        _fromBackend.Release();
    }

    public void StartRelay(ReadOnlyMemory<byte> header, int skip, TimeSpan clientTimeout, TimeSpan serverTimeout, IRelayEnded ended) =>
        _ = RelayAsync(header, skip, clientTimeout, serverTimeout, ended);

    private async Task RelayAsync(ReadOnlyMemory<byte> header, int skip, TimeSpan clientTimeout, TimeSpan serverTimeout, IRelayEnded ended)
    {
        RelayResult result;
        try
        {
            result = await SendHeldThenRelayAsync(header, skip, clientTimeout, serverTimeout).ConfigureAwait(false);
        }
        catch (Exception e) when (e is not OutOfMemoryException)
        {
            // Not a network event (those are results) but a bug: end the connection as a reset all the same.
            result = new RelayResult(RelayEnd.ClientAborted, 0, 0);
        }

        ended.RelayEnded(result);
    }

    /// <summary>The header and the client's bytes held to the backend, the backend's held to the client, then the relay.</summary>
    private async Task<RelayResult> SendHeldThenRelayAsync(ReadOnlyMemory<byte> header, int skip, TimeSpan clientTimeout, TimeSpan serverTimeout)
    {
        _fromClient.Consume(skip);
        long up = _fromClient.Held.Length;
        long down = _fromBackend.Held.Length;
        if (!await SendToBackendAsync(header, long.MaxValue).ConfigureAwait(false)
            || !await SendToBackendAsync(_fromClient.Held.ToArray(), long.MaxValue).ConfigureAwait(false))
        {
            return new RelayResult(_killed.IsCancellationRequested ? RelayEnd.Killed : RelayEnd.ServerAborted, 0, 0);
        }

        if (down > 0 && !await SendToClientAsync(_fromBackend.Held.ToArray(), long.MaxValue).ConfigureAwait(false))
        {
            return new RelayResult(_killed.IsCancellationRequested ? RelayEnd.Killed : RelayEnd.ClientAborted, up, 0);
        }

        _fromClient.Release();
        _fromBackend.Release();
        var relay = new StreamRelay(_clientStream, _client, _backend!, clientTimeout, serverTimeout, _time, _killed);
        RelayResult result = await relay.RunAsync().ConfigureAwait(false);
        return result with { BytesUp = result.BytesUp + up, BytesDown = result.BytesDown + down };
    }

    public void Close(CloseMode mode)
    {
        if (_closed)
        {
            return;
        }

        _closed = true;
        if (mode == CloseMode.Reset && _backend is { } backend)
        {
            try
            {
                backend.LingerState = new LingerOption(true, 0);
            }
            catch (Exception e) when (e is SocketException or ObjectDisposedException)
            {
                // Already closed.
            }
        }

        CloseBackend();
        _fromClient.Release();
        _tls?.Dispose();
        _client.Close(mode);
    }

    public void Ended() => _client.Ended();

    private async ValueTask<ReceiveStatus> ReceiveAsync(Stream? stream, Socket? socket, ReceiveBuffer buffer, long deadline)
    {
        Memory<byte> space = buffer.Space(MaxHeld);
        if (space.IsEmpty)
        {
            return ReceiveStatus.Full;
        }

        using var timeout = Timeout(deadline, out CancellationToken token);
        try
        {
            int count = stream is not null
                ? await stream.ReadAsync(space, token).ConfigureAwait(false)
                : await socket!.ReceiveAsync(space, SocketFlags.None, token).ConfigureAwait(false);
            if (count == 0)
            {
                return ReceiveStatus.Ended;
            }

            buffer.Received(count);
            return ReceiveStatus.Received;
        }
        catch (OperationCanceledException)
        {
            return _killed.IsCancellationRequested ? ReceiveStatus.Killed : ReceiveStatus.TimedOut;
        }
        catch (Exception e) when (IsConnectionEnd(e))
        {
            return ReceiveStatus.Reset;
        }
    }

    /// <summary>A token cancelled at <paramref name="deadline"/> or by the kill; dispose the result after the operation.</summary>
    private OperationTimeout Timeout(long deadline, out CancellationToken token) => OperationTimeout.Start(_time, deadline, _killed, out token);

    private static bool IsConnectionEnd(Exception e) =>
        e is OperationCanceledException or SocketException or ObjectDisposedException or IOException or InvalidOperationException;
}
