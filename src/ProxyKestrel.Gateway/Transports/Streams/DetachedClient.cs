namespace ProxyKestrel.Gateway.Transports.Streams;

/// <summary>
/// A client connection its transport handed over as a stream (<see cref="StreamConnectionIo"/>): the stream, how its
/// sending half is closed (a FIN), how the connection is closed and how its end is reported to the transport.
/// </summary>
internal sealed class DetachedClient
{
    private readonly Func<ValueTask> _shutdownSend;
    private readonly Action<Lifecycle.CloseMode> _close;
    private readonly Action _ended;

    public DetachedClient(Stream stream, Func<ValueTask> shutdownSend, Action<Lifecycle.CloseMode> close, Action ended)
    {
        Stream = stream;
        _shutdownSend = shutdownSend;
        _close = close;
        _ended = ended;
    }

    /// <summary>The client's bytes, both ways.</summary>
    public Stream Stream { get; }

    /// <summary>Passes a FIN on to the client after everything written.</summary>
    public ValueTask ShutdownSendAsync() => _shutdownSend();

    /// <summary>Closes the client connection.</summary>
    public void Close(Lifecycle.CloseMode mode) => _close(mode);

    /// <summary>Tells the transport that the connection's end is recorded.</summary>
    public void Ended() => _ended();
}
