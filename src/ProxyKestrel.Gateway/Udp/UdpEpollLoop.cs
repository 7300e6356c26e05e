using System.Collections.Concurrent;
using System.Net;
using System.Net.Sockets;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Versioning;
using Microsoft.Extensions.Logging;
using static ProxyKestrel.Gateway.Transports.Epoll.LinuxNative;

namespace ProxyKestrel.Gateway.Udp;

// Over 300 lines on purpose: everything one UDP loop thread does (the wait, the dispatch by token, the receive batch,
// the reply batch, posted commands) in one place, where its single-thread invariants are easy to check.

/// <summary>
/// One event loop of the UDP routes on Linux: a thread in <c>epoll_wait</c> on its own epoll instance, holding its own
/// socket of every route endpoint (<c>SO_REUSEPORT</c>: the kernel sends a client's datagrams to one loop) and the
/// connected backend sockets of the sessions it opened. Datagrams are read in batches with <c>recvmmsg</c>; replies of
/// all its sessions are gathered and sent to the clients in batches with <c>sendmmsg</c>. Other threads reach it only
/// through <see cref="Post"/>.
/// </summary>
[SupportedOSPlatform("linux")]
internal sealed unsafe class UdpEpollLoop : IDisposable
{
    /// <summary>Datagrams per <c>recvmmsg</c> and per <c>sendmmsg</c>.</summary>
    public const int Batch = 32;

    /// <summary>The room of one received datagram: the outgoing header's room, then up to 64 KiB.</summary>
    public const int ReceiveSlot = 256 + 65_536;

    private const int ReplySlot = 65_536;
    private const int NameSlot = 32;
    private const int MaxEvents = 256;
    private const ulong WakeToken = ulong.MaxValue;

    private readonly int _epoll;
    private readonly int _wakeFd;
    private readonly Thread _thread;
    private readonly ILogger _logger;
    private readonly ConcurrentQueue<Action> _commands = new();
    private int _wakePending;
    private volatile bool _stopping;
    private readonly Lock _wakeLock = new();
    private bool _wakeOpen = true;

    private object?[] _slots = new object?[64];
    private uint[] _generations = new uint[64];
    private readonly Stack<int> _freeSlots = new();
    private int _nextSlot;

    // The receive batch: Batch slots of ReceiveSlot bytes in a pinned array (the codec reads it as Memory), their
    // iovecs, sender names and message headers in native memory.
    private readonly byte[] _received = GC.AllocateUninitializedArray<byte>(Batch * ReceiveSlot, pinned: true);
    private readonly MMsgHdr* _receiveMessages;
    private readonly IoVec* _receiveVectors;
    private readonly byte* _receiveNames;
    private readonly SocketAddress _sender4 = new(AddressFamily.InterNetwork);
    private readonly SocketAddress _sender6 = new(AddressFamily.InterNetworkV6);

    // The reply batch: replies waiting for one sendmmsg on one listener socket.
    private readonly byte* _replies;
    private readonly MMsgHdr* _replyMessages;
    private readonly IoVec* _replyVectors;
    private readonly byte* _replyNames;
    private readonly UdpEpollSession?[] _replySessions = new UdpEpollSession?[Batch];
    private int _replyCount;
    private int _replyFd = -1;

    public UdpEpollLoop(int index, ILogger logger)
    {
        _logger = logger;
        _epoll = EpollCreate1(SockCloExec);
        if (_epoll < 0)
        {
            throw new IOException($"epoll_create1 failed: {Describe(Errno)}");
        }

        _wakeFd = EventFd(0, SockNonBlock | SockCloExec);
        if (_wakeFd < 0 || EpollCtl(_epoll, EpollCtlAdd, _wakeFd, EpollIn, WakeToken) != 0)
        {
            int errno = Errno;
            Close(_epoll);
            throw new IOException($"eventfd failed: {Describe(errno)}");
        }

        _receiveMessages = (MMsgHdr*)NativeMemory.AllocZeroed((nuint)(Batch * sizeof(MMsgHdr)));
        _receiveVectors = (IoVec*)NativeMemory.AllocZeroed((nuint)(Batch * sizeof(IoVec)));
        _receiveNames = (byte*)NativeMemory.AllocZeroed(Batch * NameSlot);
        _replies = (byte*)NativeMemory.Alloc(Batch * ReplySlot);
        _replyMessages = (MMsgHdr*)NativeMemory.AllocZeroed((nuint)(Batch * sizeof(MMsgHdr)));
        _replyVectors = (IoVec*)NativeMemory.AllocZeroed((nuint)(Batch * sizeof(IoVec)));
        _replyNames = (byte*)NativeMemory.AllocZeroed(Batch * NameSlot);
        byte* received = (byte*)Unsafe.AsPointer(ref MemoryMarshal.GetArrayDataReference(_received));
        for (int i = 0; i < Batch; i++)
        {
            _receiveVectors[i] = new IoVec { Base = received + (i * ReceiveSlot) + 256, Length = ReceiveSlot - 256 };
            _receiveMessages[i].Header.Iov = _receiveVectors + i;
            _receiveMessages[i].Header.IovLength = 1;
            _receiveMessages[i].Header.Name = _receiveNames + (i * NameSlot);
            _replyVectors[i].Base = _replies + (i * ReplySlot);
            _replyMessages[i].Header.Iov = _replyVectors + i;
            _replyMessages[i].Header.IovLength = 1;
            _replyMessages[i].Header.Name = _replyNames + (i * NameSlot);
        }

        _thread = new Thread(Run) { IsBackground = true, Name = $"ProxyKestrel UDP epoll {index}" };
        _thread.UnsafeStart();
    }

    public bool IsLoopThread => Thread.CurrentThread == _thread;

    /// <summary>Runs <paramref name="command"/> on the loop's thread.</summary>
    public void Post(Action command)
    {
        _commands.Enqueue(command);
        if (Interlocked.Exchange(ref _wakePending, 1) == 0)
        {
            ulong one = 1;
            lock (_wakeLock)
            {
                // Closed once the loop has stopped: a late post (a session ended after the loop) wakes nothing.
                if (_wakeOpen)
                {
                    Write(_wakeFd, (byte*)&one, sizeof(ulong));
                }
            }
        }
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

    /// <summary>Registers <paramref name="fd"/> for reading, dispatched to <paramref name="handler"/>; returns its slot.</summary>
    public int Register(int fd, object handler)
    {
        int slot;
        if (_freeSlots.Count > 0)
        {
            slot = _freeSlots.Pop();
        }
        else
        {
            slot = _nextSlot++;
            if (slot == _slots.Length)
            {
                Array.Resize(ref _slots, _slots.Length * 2);
                Array.Resize(ref _generations, _generations.Length * 2);
            }
        }

        _slots[slot] = handler;
        if (EpollCtl(_epoll, EpollCtlAdd, fd, EpollIn, ((ulong)_generations[slot] << 32) | (uint)slot) != 0)
        {
            int errno = Errno;
            Free(slot);
            throw new IOException($"epoll_ctl failed: {Describe(errno)}");
        }

        return slot;
    }

    /// <summary>Unregisters and closes <paramref name="fd"/>; events still queued for its slot are dropped.</summary>
    public void CloseRegistered(int fd, int slot)
    {
        EpollCtl(_epoll, EpollCtlDel, fd, 0, 0);
        Free(slot);
        if (_replyFd == fd)
        {
            FlushReplies();
        }

        Close(fd);
    }

    /// <summary>Reads the datagrams waiting on a listener socket, a batch at a time, and hands each to its endpoint.</summary>
    public void ReceiveDatagrams(UdpEpollListener listener, int fd)
    {
        for (int round = 0; round < 8; round++)
        {
            for (int i = 0; i < Batch; i++)
            {
                _receiveMessages[i].Header.NameLength = NameSlot;
                _receiveMessages[i].Header.Flags = 0;
            }

            int count = RecvMMsg(fd, _receiveMessages, Batch, MsgDontWait, null);
            if (count < 0)
            {
                int errno = Errno;
                if (errno != EAgain && errno != EIntr && errno != EConnRefused)
                {
                    UdpProxyLog.ReceiveFailed(_logger, listener.Route.RouteId, listener.LocalEndPoint, Describe(errno));
                }

                return;
            }

            for (int i = 0; i < count; i++)
            {
                byte* name = _receiveNames + (i * NameSlot);
                SocketAddress sender = *(ushort*)name == AfInet6 ? _sender6 : _sender4;
                new ReadOnlySpan<byte>(name, sender.Size).CopyTo(sender.Buffer.Span);
                int length = (int)_receiveMessages[i].Length;
                bool truncated = (_receiveMessages[i].Header.Flags & MsgTrunc) != 0;
                listener.OnDatagram(this, fd, _received, i * ReceiveSlot, length, truncated, sender);
            }

            if (count < Batch)
            {
                return;
            }
        }
    }

    /// <summary>Reads a session's replies into the reply batch (sent when full, or at the end of the loop's turn).</summary>
    public void ReadReplies(UdpEpollSession session)
    {
        for (int i = 0; i < Batch && !session.IsEnded; i++)
        {
            if (_replyCount == Batch || (_replyCount > 0 && _replyFd != session.ListenerFd))
            {
                FlushReplies();
            }

            int n = (int)Recv(session.Fd, _replies + (_replyCount * ReplySlot), ReplySlot, MsgDontWait);
            if (n < 0)
            {
                int errno = Errno;
                if (errno is EAgain or EIntr)
                {
                    return;
                }

                string reason = ErrorType(errno);
                if (errno is EConnRefused or 104 or 101 or 113)
                {
                    session.Endpoint.DestinationUnreachable(session, reason);
                }
                else
                {
                    session.Endpoint.ReplyFailed(session);
                }

                return;
            }

            int k = _replyCount++;
            _replyFd = session.ListenerFd;
            _replySessions[k] = session;
            _replyVectors[k].Length = (nuint)n;
            session.ReplyTo.Buffer.Span.CopyTo(new Span<byte>(_replyNames + (k * NameSlot), NameSlot));
            _replyMessages[k].Header.NameLength = (uint)session.ReplyTo.Size;
        }
    }

    public void Dispose()
    {
        _stopping = true;
        Post(static () => { });
        if (!IsLoopThread)
        {
            _thread.Join(TimeSpan.FromSeconds(5));
        }
    }

    private void FlushReplies()
    {
        int sent = 0;
        while (sent < _replyCount)
        {
            int n = SendMMsg(_replyFd, _replyMessages + sent, (uint)(_replyCount - sent), MsgDontWait | MsgNoSignal);
            if (n > 0)
            {
                for (int k = sent; k < sent + n; k++)
                {
                    UdpEpollSession session = _replySessions[k]!;
                    session.Endpoint.SentDown(session, (int)_replyVectors[k].Length);
                }

                sent += n;
            }
            else if (n < 0 && Errno == EIntr)
            {
                continue;
            }
            else
            {
                // The client's address refuses it (or the socket's buffer is full): this reply is lost, the next go on.
                _replySessions[sent]!.Endpoint.ReplyDropped();
                sent++;
            }
        }

        Array.Clear(_replySessions, 0, _replyCount);
        _replyCount = 0;
        _replyFd = -1;
    }

    private void Free(int slot)
    {
        _slots[slot] = null;
        _generations[slot]++;
        _freeSlots.Push(slot);
    }

    private void Run()
    {
        byte* events = (byte*)NativeMemory.Alloc((nuint)(MaxEvents * EpollEventSize));
        try
        {
            while (!_stopping)
            {
                int count = EpollWait(_epoll, events, MaxEvents, -1);
                if (count < 0)
                {
                    if (Errno == EIntr)
                    {
                        continue;
                    }

                    string reason = Describe(Errno);
                    UdpProxyLog.LoopFailed(_logger, reason);
                    return;
                }

                bool woken = false;
                for (int i = 0; i < count; i++)
                {
                    ReadEvent(events, i, out _, out ulong data);
                    if (data == WakeToken)
                    {
                        woken = true;
                        continue;
                    }

                    Dispatch(data);
                }

                if (_replyCount > 0)
                {
                    FlushReplies();
                }

                if (woken)
                {
                    ulong value;
                    Read(_wakeFd, (byte*)&value, sizeof(ulong));
                    Volatile.Write(ref _wakePending, 0);
                    while (_commands.TryDequeue(out Action? command))
                    {
                        try
                        {
                            command();
                        }
                        catch (Exception e) when (e is not OutOfMemoryException)
                        {
                            UdpProxyLog.LoopCommandFailed(_logger, e);
                        }
                    }

                    if (_replyCount > 0)
                    {
                        FlushReplies();
                    }
                }
            }
        }
        finally
        {
            NativeMemory.Free(events);
            lock (_wakeLock)
            {
                _wakeOpen = false;
                Close(_wakeFd);
            }

            Close(_epoll);
            NativeMemory.Free(_receiveMessages);
            NativeMemory.Free(_receiveVectors);
            NativeMemory.Free(_receiveNames);
            NativeMemory.Free(_replies);
            NativeMemory.Free(_replyMessages);
            NativeMemory.Free(_replyVectors);
            NativeMemory.Free(_replyNames);
        }
    }

    private void Dispatch(ulong data)
    {
        int slot = (int)(uint)data;
        if (slot >= _nextSlot || _generations[slot] != (uint)(data >> 32))
        {
            return; // Closed earlier in this batch.
        }

        switch (_slots[slot])
        {
            case UdpEpollSocket socket:
                try
                {
                    ReceiveDatagrams(socket.Listener, socket.Fd);
                }
                catch (Exception e) when (e is not OutOfMemoryException)
                {
                    UdpProxyLog.LoopCommandFailed(_logger, e);
                }

                break;
            case UdpEpollSession session:
                try
                {
                    ReadReplies(session);
                }
                catch (Exception e) when (e is not OutOfMemoryException)
                {
                    UdpProxyLog.LoopCommandFailed(_logger, e);
                    session.Endpoint.ReplyFailed(session);
                }

                break;
        }
    }
}

/// <summary>A loop's own socket of a route endpoint (the token's target for its readable events).</summary>
internal sealed record UdpEpollSocket(UdpEpollListener Listener, int Fd);
