using System.Buffers;
using ProxyKestrel.Gateway.Lifecycle;
using static ProxyKestrel.Gateway.Transports.Epoll.LinuxNative;

namespace ProxyKestrel.Gateway.Transports.Epoll;

/// <summary>The client side of an <see cref="EpollConnection"/> before the relay: its first bytes, read without consuming them.</summary>
internal sealed partial class EpollConnection
{
    public ValueTask<ReceiveStatus> ReceiveAsync(long deadline)
    {
        if (_killed)
        {
            return new ValueTask<ReceiveStatus>(ReceiveStatus.Killed);
        }

        if (_clientEnded || !EnsureClientRegistered())
        {
            return new ValueTask<ReceiveStatus>(_clientRegistrationFailed ? ReceiveStatus.Reset : ReceiveStatus.Ended);
        }

        // The first bytes usually arrive with the connection: read at once rather than after an event.
        ValueTask<ReceiveStatus> pending = (_receive ??= _loop.ReceiveOperations.Rent()).Start();
        _state = State.Receiving;
        _deadline = deadline;
        Receive();
        return pending;
    }

    /// <summary>Registers the client socket with the loop the first time an operation needs its events.</summary>
    private bool EnsureClientRegistered()
    {
        if (!_clientRegistered)
        {
            _clientRegistered = true;
            if (EpollCtl(_loop.EpollFd, EpollCtlAdd, _client, EpollIn | EpollOut | EpollRdHup | EpollEt, _loop.Token(_slot, Client, 0)) != 0)
            {
                _clientRegistrationFailed = true;
            }

            // Edge-triggered: until a read or a send finds nothing to do, assume it can.
            _clientReadable = true;
            _clientWritable = true;
        }

        return !_clientRegistrationFailed;
    }

    /// <summary>The pending receive: completes it once something happened (bytes, the end, a reset, no room left).</summary>
    private void Receive()
    {
        if (ReadClient() is { } status)
        {
            _state = State.Idle;
            _deadline = long.MaxValue;
            _receive!.Complete(status);
        }
    }

    /// <summary>Reads what the client socket holds into <see cref="Received"/>; null when nothing new was there.</summary>
    private unsafe ReceiveStatus? ReadClient()
    {
        bool received = false;
        while (_clientReadable)
        {
            if (_pre is null || _preLength == _pre.Length)
            {
                if (_pre is not null && _pre.Length >= MaxPreRead)
                {
                    return received ? ReceiveStatus.Received : ReceiveStatus.Full;
                }

                byte[] larger = ArrayPool<byte>.Shared.Rent(_pre is null ? FirstReadSize : Math.Min(_pre.Length * 2, MaxPreRead));
                if (_pre is not null)
                {
                    _pre.AsSpan(0, _preLength).CopyTo(larger);
                    ArrayPool<byte>.Shared.Return(_pre);
                }

                _pre = larger;
            }

            int space = _pre.Length - _preLength;
            nint count;
            fixed (byte* buffer = &_pre[_preLength])
            {
                count = Recv(_client, buffer, (nuint)space, 0);
            }

            if (count < 0)
            {
                int errno = Errno;
                if (errno == EIntr)
                {
                    continue;
                }

                _clientReadable = false;
                if (errno == EAgain)
                {
                    break;
                }

                // Reset before the backend connection.
                _clientEnded = true;
                return ReceiveStatus.Reset;
            }

            if (count == 0)
            {
                _clientEnded = true;
                _clientReadable = false;
                return ReceiveStatus.Ended;
            }

            _preLength += (int)count;
            received = true;
            if (count < space && !_clientEnding)
            {
                _clientReadable = false;
            }
        }

        return received ? ReceiveStatus.Received : null;
    }
}
