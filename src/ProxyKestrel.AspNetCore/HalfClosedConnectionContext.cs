using System.IO.Pipelines;
using System.Net;
using Microsoft.AspNetCore.Connections;
using Microsoft.AspNetCore.Http.Features;

namespace ProxyKestrel.AspNetCore;

/// <summary>
/// What the rest of the pipeline sees of a connection whose client had already half-closed (sent its FIN) when its
/// PROXY header was accepted: the same connection, except that <see cref="ConnectionClosed"/> fires only once the
/// application has read the input to its end (or the input failed, or the connection is aborted).
/// </summary>
/// <remarks>
/// Kestrel's transports fire <c>ConnectionClosed</c> as soon as they read a FIN, and Kestrel's HTTP layer then stops
/// writing. A client that sends its header and a complete request and then half-closes (<c>nc -N</c>, HTTP/1.0
/// tools, health checkers, a proxy relaying such a client) would get no answer only because the header was read
/// first. The bytes it sent before the FIN are still unread in the pipe: they are served first, as nginx and HAProxy
/// do. Only such connections are wrapped; every other one goes on with Kestrel's own context.
/// </remarks>
internal sealed class HalfClosedConnectionContext : ConnectionContext
{
    private readonly ConnectionContext _inner;
    private readonly CancellationTokenSource _closed = new();
    private IDuplexPipe _transport;
    private CancellationToken _closedToken;

    public HalfClosedConnectionContext(ConnectionContext inner)
    {
        _inner = inner;
        _transport = new Pipe(new EndObservingReader(inner.Transport.Input, this), inner.Transport.Output);
        _closedToken = _closed.Token;
    }

    public override string ConnectionId
    {
        get => _inner.ConnectionId;
        set => _inner.ConnectionId = value;
    }

    public override IFeatureCollection Features => _inner.Features;

    public override IDictionary<object, object?> Items
    {
        get => _inner.Items;
        set => _inner.Items = value;
    }

    public override IDuplexPipe Transport
    {
        get => _transport;
        set => _transport = value;
    }

    public override EndPoint? LocalEndPoint
    {
        get => _inner.LocalEndPoint;
        set => _inner.LocalEndPoint = value;
    }

    public override EndPoint? RemoteEndPoint
    {
        get => _inner.RemoteEndPoint;
        set => _inner.RemoteEndPoint = value;
    }

    public override CancellationToken ConnectionClosed
    {
        get => _closedToken;
        set => _closedToken = value;
    }

    public override void Abort(ConnectionAbortedException abortReason)
    {
        _inner.Abort(abortReason);
        Close();
    }

    public override void Abort()
    {
        _inner.Abort();
        Close();
    }

    /// <summary>Releases this view only: the connection itself belongs to Kestrel, which disposes it.</summary>
    public override ValueTask DisposeAsync()
    {
        _closed.Dispose();
        return base.DisposeAsync();
    }

    private void Close()
    {
        try
        {
            _closed.Cancel();
        }
        catch (ObjectDisposedException)
        {
            // Disposed with the connection: nobody is listening any more.
        }
    }

    private sealed class Pipe(PipeReader input, PipeWriter output) : IDuplexPipe
    {
        public PipeReader Input { get; } = input;

        public PipeWriter Output { get; } = output;
    }

    /// <summary>Forwards every call; the first read that shows the end of the input (or fails) closes the connection.</summary>
    private sealed class EndObservingReader(PipeReader inner, HalfClosedConnectionContext owner) : PipeReader
    {
        public override void AdvanceTo(SequencePosition consumed) => inner.AdvanceTo(consumed);

        public override void AdvanceTo(SequencePosition consumed, SequencePosition examined) => inner.AdvanceTo(consumed, examined);

        public override void CancelPendingRead() => inner.CancelPendingRead();

        public override void Complete(Exception? exception = null) => inner.Complete(exception);

        public override ValueTask CompleteAsync(Exception? exception = null) => inner.CompleteAsync(exception);

        public override bool TryRead(out ReadResult result)
        {
            bool read;
            try
            {
                read = inner.TryRead(out result);
            }
            catch
            {
                owner.Close();
                throw;
            }

            if (read)
            {
                Observe(result);
            }

            return read;
        }

        public override ValueTask<ReadResult> ReadAsync(CancellationToken cancellationToken = default)
        {
            ValueTask<ReadResult> read;
            try
            {
                read = inner.ReadAsync(cancellationToken);
            }
            catch
            {
                owner.Close();
                throw;
            }

            if (read.IsCompletedSuccessfully)
            {
                ReadResult result = read.Result;
                Observe(result);
                return new ValueTask<ReadResult>(result);
            }

            return AwaitAsync(read);
        }

        private async ValueTask<ReadResult> AwaitAsync(ValueTask<ReadResult> read)
        {
            ReadResult result;
            try
            {
                result = await read.ConfigureAwait(false);
            }
            catch
            {
                owner.Close();
                throw;
            }

            Observe(result);
            return result;
        }

        private void Observe(in ReadResult result)
        {
            // Data still buffered with the FIN behind it is served first; the close is reported once nothing is left.
            if (result.IsCompleted && result.Buffer.IsEmpty)
            {
                owner.Close();
            }
        }
    }
}
