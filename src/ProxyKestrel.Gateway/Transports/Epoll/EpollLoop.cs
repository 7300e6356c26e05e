using System.Collections.Concurrent;
using System.Runtime.InteropServices;
using System.Runtime.Versioning;
using static ProxyKestrel.Gateway.Transports.Epoll.LinuxNative;

namespace ProxyKestrel.Gateway.Transports.Epoll;

// Over 400 lines on purpose: this file is everything that runs on one loop thread outside a connection (the wait,
// the dispatch by token, the slot table, the splice-pipe pool, posted commands, the deadline scan). Its invariants
// (single thread, generation-checked tokens) are easier to check in one place than spread over several.

/// <summary>
/// One event loop: a thread waiting in <c>epoll_wait</c> on its own epoll instance, which holds this loop's listening
/// sockets (one per bound endpoint, the same socket in every loop, registered with <c>EPOLLEXCLUSIVE</c>) and both
/// sockets of every connection it accepted, so a connection is handled by one thread from accept to close without a
/// lock or a thread switch. Other threads talk to it only through <see cref="Post"/>. Deadlines (header, connect, idle) are
/// checked on a tick of the transport's <see cref="TimeProvider"/>, so tests can drive them with a fake clock.
/// </summary>
[SupportedOSPlatform("linux")]
internal sealed unsafe class EpollLoop : IDisposable
{
    /// <summary>The <c>epoll_event.data</c> of the loop's eventfd.</summary>
    private const ulong WakeToken = ulong.MaxValue;
    private const int MaxEvents = 256;
    private const int SlotBits = 24;
    private const int AttemptBits = 7;

    /// <summary>The bits of a connection's backend attempt number that its event tokens carry.</summary>
    public const int AttemptMask = (1 << AttemptBits) - 1;

    /// <summary>A turn longer than this delays every other connection of the loop: reported (event 153).</summary>
    public static readonly TimeSpan SlowTurn = TimeSpan.FromMilliseconds(100);

    /// <summary>At most one slow-turn report per loop in this period; the others are counted into the next one.</summary>
    public static readonly TimeSpan SlowTurnReportPeriod = TimeSpan.FromSeconds(10);

    /// <summary>Pipes per loop for splicing bulk transfers; the other connections copy through pooled buffers.</summary>
    private const int MaxPipes = 8;
    private const int PipeSize = 1024 * 1024;
    private readonly Stack<SplicePipe> _freePipes = new();
    private int _pipes;

    private readonly int _epoll;
    private int _wakeFd;

    /// <summary>Orders a wake-up's write to the eventfd with its close: a late Post never writes to a reused descriptor.</summary>
    private readonly Lock _wakeLock = new();
    private readonly Thread _thread;
    private readonly ConcurrentQueue<Action> _commands = new();
    /// <summary>
    /// The tick of a custom <see cref="TimeProvider"/> (tests' fake clocks); null with the system clock, whose ticks
    /// come from <c>epoll_wait</c>'s own timeout (no timer thread waking the loop).
    /// </summary>
    private readonly ITimer? _tick;
    private readonly long _tickTicks;
    private long _nextTick;
    private readonly long _slowTurnTicks;
    private readonly long _slowTurnReportTicks;
    private long _lastSlowTurnReport = long.MinValue;
    private int _unreportedSlowTurns;
    private object?[] _slots = new object?[256];
    private uint[] _generations = new uint[256];
    private readonly Stack<int> _freeSlots = new();
    private int _nextSlot;
    private int _wakePending;
    private int _tickPending;
    private volatile bool _stopping;

    /// <summary>Connections to continue in the next turn (they used up their budget in this one).</summary>
    private readonly Queue<EpollConnection> _ready = new();

    /// <summary>The loop's open connections, for the deadline scan and aborts (intrusive list, O(1) removal).</summary>
    private EpollConnection? _first;

    public EpollLoop(EpollRouteTransport transport, int index)
    {
        Transport = transport;
        Index = index;
        _epoll = EpollCreate1(SockCloExec);
        if (_epoll < 0)
        {
            throw new IOException($"epoll_create1 failed: {Describe(Errno)}");
        }

        _wakeFd = EventFd(0, SockNonBlock | SockCloExec);
        if (_wakeFd < 0 || EpollCtl(_epoll, EpollCtlAdd, _wakeFd, EpollIn, WakeToken) != 0)
        {
            int errno = Errno;
            if (_wakeFd >= 0)
            {
                Close(_wakeFd);
            }

            Close(_epoll);
            throw new IOException($"eventfd failed: {Describe(errno)}");
        }

        _tickTicks = Ticks(EpollRouteTransport.TickPeriod);
        _nextTick = transport.TimeProvider.GetTimestamp() + _tickTicks;
        _slowTurnTicks = Ticks(SlowTurn);
        _slowTurnReportTicks = Ticks(SlowTurnReportPeriod);
        if (transport.TimeProvider != TimeProvider.System)
        {
            _tick = transport.TimeProvider.CreateTimer(static state => ((EpollLoop)state!).RequestTick(), this, EpollRouteTransport.TickPeriod, EpollRouteTransport.TickPeriod);
        }

        // Last: the thread reads the fields set above.
        _thread = new Thread(Run) { IsBackground = true, Name = $"ProxyKestrel epoll {index}" };
        _thread.UnsafeStart();
    }

    public EpollRouteTransport Transport { get; }

    /// <summary>The reusable receive operations of this loop's connections.</summary>
    public LoopOperationPool<Lifecycle.ReceiveStatus> ReceiveOperations { get; } = new();

    /// <summary>The reusable lookup and connect operations of this loop's connections.</summary>
    public LoopOperationPool<Lifecycle.ConnectResult> ConnectOperations { get; } = new();

    public int Index { get; }

    /// <summary><paramref name="span"/> in timestamp units of the transport's clock (as <see cref="Now"/>).</summary>
    public long Ticks(TimeSpan span) => (long)(span.TotalSeconds * Transport.TimeProvider.TimestampFrequency);

    /// <summary>The transport clock's timestamp when the current batch of events started.</summary>
    public long Now { get; private set; }

    public int EpollFd => _epoll;

    /// <summary>This loop's listening sockets.</summary>
    public List<EpollAcceptor> Acceptors { get; } = [];

    /// <summary>Runs <paramref name="command"/> on the loop's thread.</summary>
    public void Post(Action command)
    {
        _commands.Enqueue(command);
        Wake();
    }

    /// <summary>Runs <paramref name="command"/> on the loop's thread and waits for it.</summary>
    public Task InvokeAsync(Action command)
    {
        var done = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        Post(() =>
        {
            try
            {
                command();
                done.TrySetResult();
            }
            catch (Exception e)
            {
                done.TrySetException(e);
            }
        });
        return done.Task;
    }

    /// <summary>Registers a handler; returns the slot whose token goes into <c>epoll_event.data</c>.</summary>
    public int AddSlot(object handler)
    {
        int slot;
        if (_freeSlots.Count > 0)
        {
            slot = _freeSlots.Pop();
        }
        else
        {
            slot = _nextSlot++;
            if (slot >= 1 << SlotBits)
            {
                throw new InvalidOperationException("Too many open handles in one event loop.");
            }

            if (slot == _slots.Length)
            {
                Array.Resize(ref _slots, _slots.Length * 2);
                Array.Resize(ref _generations, _generations.Length * 2);
            }
        }

        _slots[slot] = handler;
        return slot;
    }

    /// <summary>Frees a slot; events still queued for it are dropped (its generation changes).</summary>
    public void RemoveSlot(int slot)
    {
        _slots[slot] = null;
        _generations[slot]++;
        _freeSlots.Push(slot);
    }

    /// <summary>The <c>epoll_event.data</c> for a slot, a side (0 client or listener, 1 backend) and a connect attempt.</summary>
    public ulong Token(int slot, int side, int attempt) =>
        ((ulong)_generations[slot] << 32) | ((ulong)(attempt & AttemptMask) << (SlotBits + 1)) | ((ulong)side << SlotBits) | (uint)slot;

    /// <summary>A pipe for a direction that moves bulk data; null when the loop's pipes are all in use.</summary>
    public SplicePipe? RentPipe()
    {
        if (_freePipes.TryPop(out SplicePipe? pipe))
        {
            return pipe;
        }

        if (_pipes >= MaxPipes || SplicePipe.Create(PipeSize) is not { } created)
        {
            return null;
        }

        _pipes++;
        return created;
    }

    /// <summary>Takes a pipe back: kept for reuse when empty, closed when bytes are left in it.</summary>
    public void ReturnPipe(SplicePipe pipe)
    {
        if (pipe.Bytes == 0 && !_stopping)
        {
            _freePipes.Push(pipe);
            return;
        }

        pipe.Close();
        _pipes--;
    }

    public void Track(EpollConnection connection)
    {
        connection.Next = _first;
        if (_first is not null)
        {
            _first.Previous = connection;
        }

        _first = connection;
    }

    public void Untrack(EpollConnection connection)
    {
        if (connection.Previous is not null)
        {
            connection.Previous.Next = connection.Next;
        }
        else if (_first == connection)
        {
            _first = connection.Next;
        }

        if (connection.Next is not null)
        {
            connection.Next.Previous = connection.Previous;
        }

        connection.Next = null;
        connection.Previous = null;
    }

    /// <summary>Closes every connection a listener accepted (on the loop's thread).</summary>
    public void AbortConnections(EpollRouteListener listener)
    {
        EpollConnection? connection = _first;
        while (connection is not null)
        {
            EpollConnection? next = connection.Next;
            if (connection.Listener == listener)
            {
                connection.Abort();
            }

            connection = next;
        }
    }

    /// <summary>Stops the thread; the transport has unbound every listener before.</summary>
    public void Dispose()
    {
        _tick?.Dispose();
        _stopping = true;
        Wake();
        if (Thread.CurrentThread != _thread)
        {
            _thread.Join(TimeSpan.FromSeconds(5));
        }

        while (_freePipes.TryPop(out SplicePipe? pipe))
        {
            pipe.Close();
        }

        lock (_wakeLock)
        {
            Close(_wakeFd);
            _wakeFd = -1;
        }

        Close(_epoll);
    }

    private void RequestTick()
    {
        Volatile.Write(ref _tickPending, 1);
        Wake();
    }

    private void Wake()
    {
        if (Interlocked.Exchange(ref _wakePending, 1) == 0)
        {
            ulong one = 1;
            lock (_wakeLock)
            {
                // -1 once disposed: a command posted after that (a DNS lookup that ended late) wakes nothing.
                if (_wakeFd >= 0)
                {
                    Write(_wakeFd, (byte*)&one, sizeof(ulong));
                }
            }
        }
    }

    private void Run()
    {
        byte* events = (byte*)NativeMemory.Alloc((nuint)(MaxEvents * EpollEventSize));
        try
        {
            while (!_stopping)
            {
                int timeout = -1;
                if (_ready.Count > 0)
                {
                    // Work is left from the last turn: only collect what is ready, do not wait.
                    timeout = 0;
                }
                else if (_tick is null)
                {
                    long left = _nextTick - Transport.TimeProvider.GetTimestamp();
                    timeout = left <= 0 ? 0 : (int)Math.Ceiling(left * 1000.0 / Transport.TimeProvider.TimestampFrequency);
                }

                int count = EpollWait(_epoll, events, MaxEvents, timeout);
                if (count < 0)
                {
                    if (Errno == EIntr)
                    {
                        continue;
                    }

                    string reason = Describe(Errno);
                    EpollLog.LoopFailed(Transport.Logger, Index, reason);
                    return;
                }

                Now = Transport.TimeProvider.GetTimestamp();
                long turnStarted = Now;
                bool woken = false;
                for (int i = 0; i < count; i++)
                {
                    ReadEvent(events, i, out uint flags, out ulong data);
                    if (data == WakeToken)
                    {
                        woken = true;
                        continue;
                    }

                    Dispatch(flags, data);
                }

                RunReady();
                if (_tick is null && Now >= _nextTick)
                {
                    _nextTick = Now + _tickTicks;
                    CheckDeadlines();
                }

                if (woken)
                {
                    ulong value;
                    Read(_wakeFd, (byte*)&value, sizeof(ulong));
                    Volatile.Write(ref _wakePending, 0);
                    RunCommands();
                    if (Interlocked.Exchange(ref _tickPending, 0) == 1)
                    {
                        CheckDeadlines();
                    }
                }

                long spent = Transport.TimeProvider.GetTimestamp() - turnStarted;
                if (spent >= _slowTurnTicks)
                {
                    ReportSlowTurn(turnStarted + spent, spent, count);
                }
            }
        }
        finally
        {
            NativeMemory.Free(events);
            // Stopped (the transport is disposed): nothing may stay open behind it.
            while (_first is { } connection)
            {
                connection.Abort();
                if (_first == connection)
                {
                    Untrack(connection);
                }
            }
        }
    }

    /// <summary>
    /// Logs a turn that held the loop for <paramref name="spent"/> (handlers, commands, the deadline scan), at most once
    /// per <see cref="SlowTurnReportPeriod"/>; the turns not logged are counted into the next report.
    /// </summary>
    private void ReportSlowTurn(long now, long spent, int events)
    {
        if (_lastSlowTurnReport != long.MinValue && now - _lastSlowTurnReport < _slowTurnReportTicks)
        {
            _unreportedSlowTurns++;
            return;
        }

        double milliseconds = spent * 1000.0 / Transport.TimeProvider.TimestampFrequency;
        EpollLog.SlowTurn(Transport.Logger, Index, Math.Round(milliseconds, 1), events, _unreportedSlowTurns);
        _lastSlowTurnReport = now;
        _unreportedSlowTurns = 0;
    }

    private void Dispatch(uint flags, ulong data)
    {
        int slot = (int)(data & ((1UL << SlotBits) - 1));
        int side = (int)((data >> SlotBits) & 1);
        int attempt = (int)((data >> (SlotBits + 1)) & AttemptMask);
        uint generation = (uint)(data >> 32);
        if (slot >= _nextSlot || _generations[slot] != generation)
        {
            // The handle was closed earlier in this batch.
            return;
        }

        try
        {
            switch (_slots[slot])
            {
                case EpollConnection connection:
                    connection.OnEvents(side, attempt, flags);
                    break;
                case EpollAcceptor acceptor:
                    acceptor.OnReadable();
                    break;
            }
        }
        catch (Exception e) when (e is not OutOfMemoryException)
        {
            // A bug in one connection's handling must not stop the loop that serves the others.
            EpollLog.HandlerFailed(Transport.Logger, Index, e);
            if (_slots[slot] is EpollConnection broken)
            {
                broken.Abort();
            }
        }
    }

    /// <summary>Queues a connection for the next turn (once, however often it asks).</summary>
    public void Defer(EpollConnection connection)
    {
        if (!connection.Deferred)
        {
            connection.Deferred = true;
            _ready.Enqueue(connection);
        }
    }

    private void RunReady()
    {
        for (int count = _ready.Count; count > 0; count--)
        {
            EpollConnection connection = _ready.Dequeue();
            connection.Deferred = false;
            try
            {
                connection.Resume();
            }
            catch (Exception e) when (e is not OutOfMemoryException)
            {
                EpollLog.HandlerFailed(Transport.Logger, Index, e);
                connection.Abort();
            }
        }
    }

    private void RunCommands()
    {
        while (_commands.TryDequeue(out Action? command))
        {
            try
            {
                command();
            }
            catch (Exception e) when (e is not OutOfMemoryException)
            {
                EpollLog.HandlerFailed(Transport.Logger, Index, e);
            }
        }
    }

    private void CheckDeadlines()
    {
        Now = Transport.TimeProvider.GetTimestamp();
        EpollConnection? connection = _first;
        while (connection is not null)
        {
            EpollConnection? next = connection.Next;
            try
            {
                connection.CheckDeadline(Now);
            }
            catch (Exception e) when (e is not OutOfMemoryException)
            {
                EpollLog.HandlerFailed(Transport.Logger, Index, e);
                connection.Abort();
            }

            connection = next;
        }

        foreach (EpollAcceptor acceptor in Acceptors)
        {
            if (acceptor.Paused)
            {
                acceptor.Resume();
            }
        }
    }
}
