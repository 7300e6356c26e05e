using System.Buffers;

namespace ProxyKestrel.Gateway.Http;

/// <summary>
/// A backend connection's stream that sends the PROXY header together with the first bytes written (the request
/// line and headers, or the HTTP/2 preface): one send and one segment instead of two, so the backend reads header and
/// request at once. Reads and later writes go straight to the inner stream.
/// </summary>
internal sealed class HeaderFirstStream : Stream
{
    private readonly Stream _inner;
    private byte[]? _header;
    private int _headerLength;

    /// <param name="inner">The connected stream (owned: disposed with this one).</param>
    /// <param name="header">A buffer rented from <see cref="ArrayPool{T}.Shared"/> holding the header (owned: returned here).</param>
    /// <param name="headerLength">The header's length in <paramref name="header"/>.</param>
    public HeaderFirstStream(Stream inner, byte[] header, int headerLength)
    {
        _inner = inner;
        _header = header;
        _headerLength = headerLength;
    }

    public override bool CanRead => _inner.CanRead;

    public override bool CanWrite => _inner.CanWrite;

    public override bool CanSeek => false;

    public override long Length => throw new NotSupportedException();

    public override long Position
    {
        get => throw new NotSupportedException();
        set => throw new NotSupportedException();
    }

    public override int Read(byte[] buffer, int offset, int count) => _inner.Read(buffer, offset, count);

    public override int Read(Span<byte> buffer) => _inner.Read(buffer);

    public override Task<int> ReadAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
        _inner.ReadAsync(buffer, offset, count, cancellationToken);

    public override ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default) =>
        _inner.ReadAsync(buffer, cancellationToken);

    public override void Write(byte[] buffer, int offset, int count) => Write(buffer.AsSpan(offset, count));

    public override void Write(ReadOnlySpan<byte> buffer)
    {
        byte[]? combined = Combine(buffer, out int length);
        if (combined is null)
        {
            _inner.Write(buffer);
            return;
        }

        try
        {
            _inner.Write(combined, 0, length);
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(combined);
        }
    }

    public override Task WriteAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
        WriteAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();

    public override ValueTask WriteAsync(ReadOnlyMemory<byte> buffer, CancellationToken cancellationToken = default)
    {
        int length = 0;
        byte[]? combined = _header is null ? null : Combine(buffer.Span, out length);
        return combined is null ? _inner.WriteAsync(buffer, cancellationToken) : WriteCombinedAsync(combined, length, cancellationToken);
    }

    public override void Flush() => _inner.Flush();

    public override Task FlushAsync(CancellationToken cancellationToken) => _inner.FlushAsync(cancellationToken);

    public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();

    public override void SetLength(long value) => throw new NotSupportedException();

    public override async ValueTask DisposeAsync()
    {
        ReturnHeader();
        await _inner.DisposeAsync().ConfigureAwait(false);
        await base.DisposeAsync().ConfigureAwait(false);
    }

    protected override void Dispose(bool disposing)
    {
        if (disposing)
        {
            ReturnHeader();
            _inner.Dispose();
        }

        base.Dispose(disposing);
    }

    private async ValueTask WriteCombinedAsync(byte[] combined, int length, CancellationToken cancellationToken)
    {
        try
        {
            await _inner.WriteAsync(combined.AsMemory(0, length), cancellationToken).ConfigureAwait(false);
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(combined);
        }
    }

    /// <summary>
    /// The header followed by <paramref name="data"/> in a rented buffer (the header is then spent), or null once the
    /// header was sent.
    /// </summary>
    private byte[]? Combine(ReadOnlySpan<byte> data, out int length)
    {
        length = 0;
        int headerLength = _headerLength;
        byte[]? header = Interlocked.Exchange(ref _header, null);
        if (header is null)
        {
            return null;
        }

        length = headerLength + data.Length;
        byte[] combined = ArrayPool<byte>.Shared.Rent(length);
        header.AsSpan(0, headerLength).CopyTo(combined);
        data.CopyTo(combined.AsSpan(headerLength));
        ArrayPool<byte>.Shared.Return(header);
        return combined;
    }

    private void ReturnHeader()
    {
        byte[]? header = Interlocked.Exchange(ref _header, null);
        if (header is not null)
        {
            ArrayPool<byte>.Shared.Return(header);
        }
    }
}
