using System.Buffers;
using System.Security.Cryptography.X509Certificates;

namespace ProxyKestrel.Gateway.Lifecycle;

/// <summary>
/// A connection taken off its transport's own I/O (<see cref="ITcpConnectionIo.DetachToStreams"/>) for a step that
/// talks to both sides before the relay: the mail front greets the client, reads its login (after TLS, when asked),
/// replays it to the backend and passes the backend's answer on. Everything of <see cref="ITcpConnectionIo"/> still
/// works (the destination step and the relay are the lifecycle's usual ones); the operations here add writing to
/// each side, consuming what was handled, TLS on the client side and reading the backend. Runs on the thread pool,
/// on both transports alike.
/// </summary>
internal interface IStreamConnectionIo : ITcpConnectionIo
{
    /// <summary>The client side is encrypted (<see cref="StartTlsAsync"/> succeeded).</summary>
    bool TlsActive { get; }

    /// <summary>Drops the first <paramref name="count"/> bytes of <see cref="ITcpConnectionIo.Received"/>: they were handled.</summary>
    void Consume(long count);

    /// <summary>Sends <paramref name="data"/> to the client; false when the client is gone, the deadline passed or the connection was killed.</summary>
    ValueTask<bool> SendToClientAsync(ReadOnlyMemory<byte> data, long deadline);

    /// <summary>
    /// Does the TLS handshake as the server with <paramref name="certificate"/>. Bytes in
    /// <see cref="ITcpConnectionIo.Received"/> are the handshake's first bytes when <paramref name="keepReceived"/> (implicit
    /// TLS), else discarded (STARTTLS: nothing sent before the handshake may be read after it, RFC 3207 §6).
    /// Returns the failure's text, or null on success.
    /// </summary>
    ValueTask<string?> StartTlsAsync(X509Certificate2 certificate, bool keepReceived, long deadline);

    /// <summary>Every byte received from the backend so far and not consumed: valid until the next operation.</summary>
    ReadOnlySequence<byte> BackendReceived { get; }

    /// <summary>Drops the first <paramref name="count"/> bytes of <see cref="BackendReceived"/>.</summary>
    void ConsumeBackend(long count);

    /// <summary>Sends <paramref name="data"/> to the backend; false when it is gone, the deadline passed or the connection was killed.</summary>
    ValueTask<bool> SendToBackendAsync(ReadOnlyMemory<byte> data, long deadline);

    /// <summary>Waits until more bytes from the backend are in <see cref="BackendReceived"/>, as ReceiveAsync does for the client.</summary>
    ValueTask<ReceiveStatus> ReceiveFromBackendAsync(long deadline);

    /// <summary>Closes the backend connection only (a refused login: the client may try again elsewhere).</summary>
    void CloseBackend();
}
