using System.Buffers;
using ProxyKestrel.Gateway.Lifecycle;
using static ProxyKestrel.Gateway.Transports.Epoll.LinuxNative;

namespace ProxyKestrel.Gateway.Transports.Epoll;

/// <summary>
/// The relay of a connected <see cref="EpollConnection"/>: each direction reads into a 64 KiB pooled buffer only
/// when data is there, writes it on at once, stops reading while the other side does not take it (backpressure),
/// moves bulk data through splice pipes, passes each FIN on after the data, and gives the buffer back as soon as it
/// is empty, so an idle connection holds no buffer; a budget per turn keeps one connection from holding the loop.
/// </summary>
internal sealed partial class EpollConnection
{
    /// <summary>Told how the relay ended; set while relaying.</summary>
    private IRelayEnded? _relayEnded;
    private Direction _up;
    private Direction _down;
    private bool _resumeNextTurn;
    private long _clientTimeoutTicks;
    private long _serverTimeoutTicks;
    private long _clientActivity;
    private long _serverActivity;

    /// <summary>The side whose receive or send failed (the relay's reset).</summary>
    private RelayEnd _failure = RelayEnd.ServerAborted;

    public void StartRelay(ReadOnlyMemory<byte> header, int skip, TimeSpan clientTimeout, TimeSpan serverTimeout, IRelayEnded ended)
    {
        if (_killed || !EnsureClientRegistered())
        {
            ended.RelayEnded(new RelayResult(_killed ? RelayEnd.Killed : RelayEnd.ClientAborted, 0, 0));
            return;
        }

        // The PROXY header, then what the client sent after its own header, go first: before any relayed byte.
        int held = _pre is null ? 0 : _preLength - skip;
        if (header.Length + held > 0)
        {
            byte[] first = ArrayPool<byte>.Shared.Rent(Math.Max(RelayBufferSize, header.Length + held));
            header.Span.CopyTo(first);
            _pre?.AsSpan(skip, held).CopyTo(first.AsSpan(header.Length));
            _up.Buffer = first;
            _up.Start = 0;
            _up.End = header.Length + held;
            // Only the client's bytes count as relayed.
            _up.Uncounted = header.Length;
        }

        ReleasePre();
        _up.SourceEnded = _clientEnded;
        _clientTimeoutTicks = Ticks(clientTimeout);
        _serverTimeoutTicks = Ticks(serverTimeout);
        _clientActivity = _serverActivity = _loop.Now;
        // The operations before the relay are done: an idle relaying connection keeps no more than it needs.
        ReturnOperations();
        _relayEnded = ended;
        _state = State.Relaying;
        Pump();
    }

    /// <summary>Ends the relay; the lifecycle goes on (and closes the sockets) before this returns: call it last.</summary>
    private void EndRelay(RelayEnd end)
    {
        if (_state != State.Relaying)
        {
            return;
        }

        _state = State.Idle;
        IRelayEnded ended = _relayEnded!;
        _relayEnded = null;
        ended.RelayEnded(new RelayResult(end, _up.Bytes, _down.Bytes));
    }

    /// <summary>
    /// The side timeouts: a side with nothing received from it or sent to it for its timeout ends the relay (the
    /// client side first when both are due, as HAProxy reports it).
    /// </summary>
    private void CheckIdle(long now)
    {
        if (now - _clientActivity >= _clientTimeoutTicks)
        {
            EndRelay(RelayEnd.ClientTimeout);
        }
        else if (now - _serverActivity >= _serverTimeoutTicks)
        {
            EndRelay(RelayEnd.ServerTimeout);
        }
    }

    /// <summary>Traffic on a socket: the activity of its side.</summary>
    private void Touch(int fd)
    {
        if (fd == _client)
        {
            _clientActivity = _loop.Now;
        }
        else
        {
            _serverActivity = _loop.Now;
        }
    }

    /// <summary>A receive from or a send to <paramref name="fd"/> failed: that side reset. Returns false.</summary>
    private bool Failed(int fd)
    {
        _failure = fd == _client ? RelayEnd.ClientAborted : RelayEnd.ServerAborted;
        return false;
    }

    /// <summary>Moves what can be moved in both directions; ends the relay when both have ended.</summary>
    private void Pump()
    {
        int upBudget = TurnBudget;
        int downBudget = TurnBudget;
        if (!Move(ref _up, _client, ref _clientReadable, _clientEnding, _backend, ref _backendWritable, _down.Finished, ref upBudget)
            || !Move(ref _down, _backend, ref _backendReadable, _backendEnding, _client, ref _clientWritable, _up.Finished, ref downBudget))
        {
            EndRelay(_failure);
            return;
        }

        if (_up.Finished && _down.Finished)
        {
            EndRelay(RelayEnd.Completed);
        }
        else if (_resumeNextTurn)
        {
            _resumeNextTurn = false;
            _loop.Defer(this);
        }
    }

    /// <summary>
    /// One direction: writes what is buffered, reads more while the source is ready and the destination keeps up;
    /// false on a reset. A read that fills a whole buffer moves the direction to a splice pipe if one is free.
    /// </summary>
    private unsafe bool Move(ref Direction direction, int from, ref bool readable, bool ending, int to, ref bool writable, bool otherFinished, ref int budget)
    {
        while (true)
        {
            if (budget <= 0)
            {
                _resumeNextTurn = true;
                return true;
            }

            if (direction.End > direction.Start)
            {
                // Buffered bytes first (the PROXY header and the client's first bytes, too).
                if (!writable)
                {
                    return true;
                }

                nint sent;
                fixed (byte* data = &direction.Buffer![direction.Start])
                {
                    sent = Send(to, data, (nuint)(direction.End - direction.Start), MsgNoSignal);
                }

                if (sent < 0)
                {
                    int errno = Errno;
                    if (errno == EAgain)
                    {
                        writable = false;
                        return true;
                    }

                    if (errno != EIntr)
                    {
                        return Failed(to);
                    }

                    continue;
                }

                Touch(to);
                direction.Start += (int)sent;
                int header = Math.Min((int)sent, direction.Uncounted);
                direction.Uncounted -= header;
                direction.Bytes += (int)sent - header;
                if (direction.Start == direction.End)
                {
                    ArrayPool<byte>.Shared.Return(direction.Buffer!);
                    direction.Buffer = null;
                    direction.Start = direction.End = 0;
                }

                continue;
            }

            if (direction.Pipe is { } pipe)
            {
                return MoveSpliced(ref direction, pipe, from, ref readable, to, ref writable, otherFinished, ref budget);
            }

            if (direction.SourceEnded)
            {
                PassFin(ref direction, to, otherFinished);
                return true;
            }

            if (!readable)
            {
                return true;
            }

            if (direction.WantsPipe)
            {
                // The last read filled a whole buffer: bulk data, spliced from now on if a pipe is free.
                direction.WantsPipe = false;
                direction.Pipe = _loop.RentPipe();
                if (direction.Pipe is not null)
                {
                    continue;
                }
            }

            direction.Buffer ??= ArrayPool<byte>.Shared.Rent(RelayBufferSize);
            nint received;
            fixed (byte* data = direction.Buffer)
            {
                received = Recv(from, data, (nuint)direction.Buffer.Length, 0);
            }

            if (received <= 0)
            {
                int errno = received < 0 ? Errno : 0;
                if (received < 0 && errno == EIntr)
                {
                    continue;
                }

                if (received < 0 && errno != EAgain)
                {
                    return Failed(from);
                }

                // EAGAIN: drained; 0: the source half-closed. Either way the buffer goes back to the pool.
                readable = false;
                direction.SourceEnded |= received == 0;
                ArrayPool<byte>.Shared.Return(direction.Buffer);
                direction.Buffer = null;
                if (received < 0)
                {
                    return true;
                }

                continue;
            }

            if (received < direction.Buffer.Length && !ending)
            {
                // A short read emptied the socket: the next data (or the FIN) brings a new edge.
                readable = false;
            }
            else if (received == direction.Buffer.Length)
            {
                direction.WantsPipe = true;
            }

            Touch(from);
            budget -= (int)received;
            direction.Start = 0;
            direction.End = (int)received;
        }
    }

    /// <summary>
    /// A bulk direction: source → pipe → destination with splice(2), reading into the pipe while it has room so
    /// receiving and sending overlap. EAGAIN on the way into a non-empty pipe cannot tell an empty socket from a full
    /// pipe, so the source is only taken as drained when the pipe was empty; otherwise the read is retried after the
    /// pipe has drained.
    /// </summary>
    private unsafe bool MoveSpliced(ref Direction direction, SplicePipe pipe, int from, ref bool readable, int to, ref bool writable, bool otherFinished, ref int budget)
    {
        bool progressed = true;
        while (progressed)
        {
            if (budget <= 0)
            {
                _resumeNextTurn = true;
                return true;
            }

            progressed = false;
            if (pipe.Bytes > 0 && writable)
            {
                nint moved = Splice(pipe.ReadFd, null, to, null, (nuint)pipe.Bytes, SpliceMove | SpliceNonBlock);
                if (moved > 0)
                {
                    Touch(to);
                    pipe.Bytes -= (int)moved;
                    direction.Bytes += moved;
                    budget -= (int)moved;
                    progressed = true;
                }
                else
                {
                    int errno = Errno;
                    if (errno == EAgain)
                    {
                        writable = false;
                    }
                    else if (errno == EIntr)
                    {
                        progressed = true;
                    }
                    else
                    {
                        return Failed(to);
                    }
                }
            }

            if (readable && !direction.SourceEnded && pipe.Bytes < pipe.Capacity)
            {
                nint spliced = Splice(from, null, pipe.WriteFd, null, (nuint)(pipe.Capacity - pipe.Bytes), SpliceMove | SpliceNonBlock);
                if (spliced > 0)
                {
                    pipe.Bytes += (int)spliced;
                    Touch(from);
                    progressed = true;
                }
                else if (spliced == 0)
                {
                    direction.SourceEnded = true;
                    readable = false;
                    progressed = true;
                }
                else
                {
                    int errno = Errno;
                    if (errno == EAgain)
                    {
                        readable = pipe.Bytes > 0;
                    }
                    else if (errno == EIntr)
                    {
                        progressed = true;
                    }
                    else
                    {
                        return Failed(from);
                    }
                }
            }
        }

        if (direction.SourceEnded && pipe.Bytes == 0)
        {
            PassFin(ref direction, to, otherFinished);
        }

        return true;
    }

    /// <summary>
    /// Everything the source sent is out: pass its half-close on. When the other direction has already ended, the
    /// close that follows sends the FIN, so the shutdown call is saved.
    /// </summary>
    private static void PassFin(ref Direction direction, int to, bool otherFinished)
    {
        if (direction.FinSent)
        {
            return;
        }

        direction.FinSent = true;
        if (!otherFinished)
        {
            LinuxNative.Shutdown(to, ShutWr);
        }
    }

    /// <summary>One direction of the relay.</summary>
    private struct Direction
    {
        public byte[]? Buffer;
        public int Start;
        public int End;

        /// <summary>Bytes at the start of the buffer that are not relayed data (the PROXY header).</summary>
        public int Uncounted;
        public long Bytes;
        public bool SourceEnded;
        public bool FinSent;

        /// <summary>Bulk data: the direction moves through this pipe with splice(2) instead of the buffer.</summary>
        public SplicePipe? Pipe;
        public bool WantsPipe;

        public readonly bool Finished => SourceEnded && FinSent && End == Start && (Pipe is null || Pipe.Bytes == 0);
    }
}
