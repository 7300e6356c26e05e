using System.Buffers;

namespace ProxyKestrel.Gateway.Transports.Streams;

/// <summary>Bytes received from one side and not yet consumed, in one pooled array that grows up to a bound.</summary>
internal sealed class ReceiveBuffer
{
    private const int FirstSize = 4 * 1024;
    private byte[]? _array;
    private int _start;
    private int _end;

    /// <summary>What is held.</summary>
    public ReadOnlySequence<byte> Held => _array is null ? default : new ReadOnlySequence<byte>(_array, _start, _end - _start);

    /// <summary>Room to receive into (after moving or growing the array); empty once <paramref name="max"/> bytes are held.</summary>
    public Memory<byte> Space(int max)
    {
        if (_array is null)
        {
            _array = ArrayPool<byte>.Shared.Rent(FirstSize);
        }
        else if (_end == _array.Length)
        {
            int held = _end - _start;
            if (_start > 0)
            {
                _array.AsSpan(_start, held).CopyTo(_array);
            }
            else if (_array.Length < max)
            {
                byte[] larger = ArrayPool<byte>.Shared.Rent(Math.Min(_array.Length * 2, max));
                _array.AsSpan(0, held).CopyTo(larger);
                ArrayPool<byte>.Shared.Return(_array);
                _array = larger;
            }

            _start = 0;
            _end = held;
        }

        return _end - _start >= max ? Memory<byte>.Empty : _array.AsMemory(_end, Math.Min(_array.Length, _start + max) - _end);
    }

    /// <summary><paramref name="count"/> bytes were received into <see cref="Space"/>.</summary>
    public void Received(int count) => _end += count;

    /// <summary>Drops the first <paramref name="count"/> bytes held.</summary>
    public void Consume(long count)
    {
        ArgumentOutOfRangeException.ThrowIfGreaterThan(count, _end - _start);
        _start += (int)count;
        if (_start == _end)
        {
            _start = _end = 0;
        }
    }

    /// <summary>Returns the array to the pool.</summary>
    public void Release()
    {
        if (_array is not null)
        {
            ArrayPool<byte>.Shared.Return(_array);
            _array = null;
            _start = _end = 0;
        }
    }
}
