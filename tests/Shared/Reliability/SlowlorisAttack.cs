using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Sockets;

namespace ProxyKestrel.Testing;

/// <summary>
/// Slowloris connections against a server that expects a PROXY header: half send a partial header (v1 and v2 in turn)
/// and stop, half send nothing; all are held open and watched until the server closes them (read returns 0 or the
/// connection is reset). Each connection's figure is the time from its last byte sent (the connect for the silent
/// ones) to that close. Opened in bounded-concurrency batches from several 127.0.0.x sources. The closes are seen by
/// one dedicated thread polling every socket, not by thread-pool continuations: a thread pool that injects a thread
/// late shifted every close by 0.5 s in one run out of ten, which the server did not cause (its own timer figures
/// were on time).
/// Shared by the middleware and gateway slowloris tests.
/// </summary>
internal sealed class SlowlorisAttack : IDisposable
{
    /// <summary>A v1 header cut after the source address.</summary>
    public static readonly byte[] PartialV1 = "PROXY TCP4 192.0.2.10 "u8.ToArray();

    /// <summary>A v2 header (PROXY, TCP over IPv4, 12 address bytes announced) cut after 4 of the 12 address bytes.</summary>
    public static readonly byte[] PartialV2 =
        [0x0D, 0x0A, 0x0D, 0x0A, 0x00, 0x0D, 0x0A, 0x51, 0x55, 0x49, 0x54, 0x0A, 0x21, 0x11, 0x00, 0x0C, 192, 0, 2, 10];

    private readonly List<Stalled> _connections = [];
    private readonly System.Collections.Concurrent.ConcurrentQueue<Stalled> _toWatch = new();
    private readonly ManualResetEventSlim _added = new();
    private readonly TaskCompletionSource _allClosed = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly Thread _watcher;
    private volatile bool _opening = true;
    private volatile bool _disposing;

    private SlowlorisAttack()
    {
        _watcher = new Thread(Watch) { IsBackground = true, Name = "slowloris-watch" };
    }

    /// <summary>When the first connection started to be opened (Stopwatch timestamp).</summary>
    public long Started { get; private set; }

    /// <summary>When the last connection was open (Stopwatch timestamp).</summary>
    public long Opened { get; private set; }

    /// <summary>Connections that could not be opened.</summary>
    public int ConnectFailures { get; private set; }

    public int Count => _connections.Count;

    /// <summary>Opens <paramref name="partial"/> + <paramref name="silent"/> connections (interleaved) to <paramref name="server"/>.</summary>
    public static async Task<SlowlorisAttack> OpenAsync(IPEndPoint server, int partial, int silent, int sources, int concurrency, TimeSpan budget)
    {
        var attack = new SlowlorisAttack { Started = Stopwatch.GetTimestamp() };
        attack._watcher.Start();
        int total = partial + silent;
        using var gate = new SemaphoreSlim(concurrency);
        var opening = new List<Task>(total);
        using var deadline = new CancellationTokenSource(budget);
        int partialLeft = partial, silentLeft = silent;
        for (int i = 0; i < total; i++)
        {
            await gate.WaitAsync(deadline.Token);
            bool isPartial = partialLeft > 0 && (silentLeft == 0 || i % 2 == 0);
            if (isPartial)
            {
                partialLeft--;
            }
            else
            {
                silentLeft--;
            }

            byte[]? payload = isPartial ? (partialLeft % 2 == 0 ? PartialV1 : PartialV2) : null;
            var source = IPAddress.Parse("127.0.0." + (2 + (i % sources)).ToString(CultureInfo.InvariantCulture));
            var stalled = new Stalled(new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp), isPartial);
            lock (attack._connections)
            {
                attack._connections.Add(stalled);
            }

            opening.Add(attack.OpenOneAsync(stalled, source, server, payload, gate, deadline.Token));
        }

        await Task.WhenAll(opening);
        attack.Opened = Stopwatch.GetTimestamp();
        attack._opening = false;
        attack._added.Set();
        return attack;
    }

    /// <summary>Waits until every connection is closed by the server, or <paramref name="timeout"/> passes.</summary>
    public async Task WaitAllClosedAsync(TimeSpan timeout)
    {
        try
        {
            await _allClosed.Task.WaitAsync(timeout);
        }
        catch (TimeoutException)
        {
            // Reported by the figures (connections still open).
        }
    }

    /// <summary>Connections the server has not closed (yet).</summary>
    public int StillOpen => _connections.Count(c => c.Closed == 0 && !c.Failed);

    /// <summary>Bytes the server wrote to the stalled connections (must be 0: nothing is written before a header).</summary>
    public long BytesReceived => _connections.Sum(c => (long)c.BytesReceived);

    /// <summary>Closes seen as a reset rather than an orderly close.</summary>
    public int Resets => _connections.Count(c => c.Reset);

    /// <summary>When the last close was seen (Stopwatch timestamp), or 0.</summary>
    public long LastClosed => _connections.Max(c => c.Closed);

    /// <summary>Seconds from each closed connection's last byte sent to its close.</summary>
    public double[] CloseSeconds(bool? partial = null) =>
        [.. _connections.Where(c => c.Closed != 0 && (partial is null || c.Partial == partial))
            .Select(c => Stopwatch.GetElapsedTime(c.LastSent, c.Closed).TotalSeconds).Order()];

    public void Dispose()
    {
        _disposing = true;
        _added.Set();
        _watcher.Join(TimeSpan.FromSeconds(5));
        _added.Dispose();
        foreach (Stalled c in _connections)
        {
            c.Socket.Dispose();
        }
    }

    private async Task OpenOneAsync(Stalled c, IPAddress source, IPEndPoint server, byte[]? payload, SemaphoreSlim gate, CancellationToken cancel)
    {
        try
        {
            c.Socket.Bind(new IPEndPoint(source, 0));
            await c.Socket.ConnectAsync(server, cancel);
            if (payload is not null)
            {
                await c.Socket.SendAsync(payload, SocketFlags.None, cancel);
            }

            c.LastSent = Stopwatch.GetTimestamp();
            c.Socket.Blocking = false;
            _toWatch.Enqueue(c);
            _added.Set();
        }
        catch (Exception e) when (e is SocketException or OperationCanceledException)
        {
            lock (_connections)
            {
                ConnectFailures++;
            }

            c.Closed = 0;
            c.Failed = true;
        }
        finally
        {
            gate.Release();
        }
    }

    /// <summary>
    /// The watcher thread: polls every open connection (100 ms at most per wait, so it sees the end of the run) and
    /// stamps each close the moment the poll reports it; ends when all are closed or the attack is disposed.
    /// </summary>
    private void Watch()
    {
        var open = new Dictionary<Socket, Stalled>();
        var readable = new List<Socket>();
        byte[] buffer = new byte[64];
        while (!_disposing)
        {
            _added.Reset();
            while (_toWatch.TryDequeue(out Stalled? added))
            {
                open.Add(added.Socket, added);
            }

            if (open.Count == 0)
            {
                if (!_opening && _toWatch.IsEmpty)
                {
                    _allClosed.TrySetResult();
                    return;
                }

                _added.Wait(100);
                continue;
            }

            readable.Clear();
            readable.AddRange(open.Keys);
            Socket.Select(readable, null, null, 100_000);
            long seen = Stopwatch.GetTimestamp();
            foreach (Socket socket in readable)
            {
                Stalled c = open[socket];
                if (Drain(c, buffer))
                {
                    c.Closed = seen;
                    open.Remove(socket);
                }
            }
        }
    }

    /// <summary>Reads what is there; whether the connection is now closed (read returned 0, or reset).</summary>
    private static bool Drain(Stalled c, byte[] buffer)
    {
        while (true)
        {
            int read;
            try
            {
                read = c.Socket.Receive(buffer, 0, buffer.Length, SocketFlags.None, out SocketError error);
                if (error == SocketError.WouldBlock)
                {
                    return false;
                }

                if (error != SocketError.Success)
                {
                    c.Reset = true;
                    return true;
                }
            }
            catch (ObjectDisposedException)
            {
                return true;
            }

            if (read == 0)
            {
                return true;
            }

            c.BytesReceived += read;
        }
    }

    private sealed class Stalled(Socket socket, bool partial)
    {
        public Socket Socket { get; } = socket;

        public bool Partial { get; } = partial;

        public bool Failed { get; set; }

        public long LastSent { get; set; }

        public long Closed { get; set; }

        public int BytesReceived { get; set; }

        public bool Reset { get; set; }
    }
}

/// <summary>
/// The well-behaved client of the slowloris scenarios: on a dedicated thread (so the test process's busy thread pool
/// does not distort its figures), one request after another, each on a new connection with a real PROXY header,
/// timing each from connect to the server's close.
/// </summary>
internal sealed class SlowlorisProbe : IDisposable
{
    private readonly IPEndPoint _server;
    private readonly Func<Socket, bool> _exchange;
    private readonly Thread _thread;
    private readonly List<(long At, double Ms, bool Ok)> _samples = [];
    private readonly TimeSpan _maxRun;
    private volatile bool _stop;

    /// <param name="exchange">Sends the request on the connected socket (receive timeout 5 s) and checks the answer.</param>
    public SlowlorisProbe(IPEndPoint server, Func<Socket, bool> exchange, TimeSpan maxRun)
    {
        _server = server;
        _exchange = exchange;
        _maxRun = maxRun;
        _thread = new Thread(Run) { IsBackground = true, Name = "slowloris-probe" };
    }

    public void Start() => _thread.Start();

    public void Stop()
    {
        _stop = true;
        _thread.Join(TimeSpan.FromSeconds(15));
    }

    /// <summary>Latencies (ms) of the requests started in [from, to) (Stopwatch timestamps), and how many failed.</summary>
    public (double[] Ms, int Failed) Between(long from, long to)
    {
        lock (_samples)
        {
            var inside = _samples.Where(s => s.At >= from && s.At < to).ToList();
            return ([.. inside.Where(s => s.Ok).Select(s => s.Ms).Order()], inside.Count(s => !s.Ok));
        }
    }

    public static double Percentile(double[] sorted, double p) =>
        sorted.Length == 0 ? double.NaN : sorted[Math.Min(sorted.Length - 1, (int)Math.Ceiling(p * sorted.Length) - 1)];

    public void Dispose() => Stop();

    private void Run()
    {
        var run = Stopwatch.StartNew();
        for (int i = 0; i < 1_000_000 && !_stop && run.Elapsed < _maxRun; i++)
        {
            long at = Stopwatch.GetTimestamp();
            bool ok;
            try
            {
                using var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
                socket.ReceiveTimeout = 5000;
                socket.SendTimeout = 5000;
                socket.Connect(_server);
                ok = _exchange(socket);
            }
            catch (SocketException)
            {
                ok = false;
            }

            double ms = Stopwatch.GetElapsedTime(at).TotalMilliseconds;
            lock (_samples)
            {
                _samples.Add((at, ms, ok));
            }

            if (!ok)
            {
                // Real-time back-off of this real-socket load loop against a server in another process (no
                // TimeProvider reaches there): a refused request is recorded as failed, then retried 10 ms later
                // instead of spinning. Failures make the test fail; this pause only bounds the retry rate.
                Thread.Sleep(10);
            }
        }
    }

    /// <summary>Reads until the peer closes (receive timeout applies); the bytes received.</summary>
    public static byte[] ReadToEnd(Socket socket)
    {
        using var all = new MemoryStream();
        byte[] buffer = new byte[4096];
        for (int i = 0; i < 10_000; i++)
        {
            int read = socket.Receive(buffer);
            if (read == 0)
            {
                break;
            }

            all.Write(buffer, 0, read);
        }

        return all.ToArray();
    }
}

/// <summary>What /proc says about a process: resident memory and open file descriptors.</summary>
internal static class SlowlorisProcfs
{
    public static long RssKb(int pid)
    {
        foreach (string line in File.ReadLines($"/proc/{pid}/status"))
        {
            if (line.StartsWith("VmRSS:", StringComparison.Ordinal))
            {
                return long.Parse(line["VmRSS:".Length..].Trim().Split(' ')[0], CultureInfo.InvariantCulture);
            }
        }

        throw new InvalidOperationException($"no VmRSS for process {pid}");
    }

    /// <summary>The process's open descriptors and what each points to ("socket:[inode]", "pipe:[...]", a path, ...).</summary>
    public static Dictionary<int, string> Descriptors(int pid)
    {
        var result = new Dictionary<int, string>();
        foreach (string path in Directory.GetFiles($"/proc/{pid}/fd"))
        {
            if (!int.TryParse(Path.GetFileName(path), out int fd))
            {
                continue;
            }

            try
            {
                result[fd] = new FileInfo(path).LinkTarget ?? "?";
            }
            catch (IOException)
            {
                // Closed since the listing.
            }
        }

        return result;
    }

    /// <summary>
    /// The process's open descriptors other than regular files: sockets, pipes, epoll/eventfd/inotify instances. Regular
    /// files are left out because the runtime opens assemblies lazily as new code paths run (a legitimate rise).
    /// </summary>
    public static int FdCount(int pid) => Descriptors(pid).Values.Count(target => !target.StartsWith('/'));

    /// <summary>The process's descriptors by kind ("socket TCP state", "pipe", "anon_inode:[eventpoll]", ...), for leak reports.</summary>
    public static string FdKinds(int pid)
    {
        var states = new Dictionary<string, string>();
        foreach (string table in new[] { "/proc/net/tcp", "/proc/net/tcp6" })
        {
            foreach (string line in File.ReadLines(table).Skip(1))
            {
                string[] f = line.Split(' ', StringSplitOptions.RemoveEmptyEntries);
                if (f.Length > 9)
                {
                    states[f[9]] = "tcp state " + f[3];
                }
            }
        }

        var kinds = new SortedDictionary<string, int>(StringComparer.Ordinal);
        foreach (string target in Descriptors(pid).Values)
        {
            string kind = target.StartsWith("socket:[", StringComparison.Ordinal)
                ? "socket " + states.GetValueOrDefault(target[8..^1], "other")
                : target.StartsWith('/') ? "file" : target.Split('[')[0];
            kinds[kind] = kinds.GetValueOrDefault(kind) + 1;
        }

        return string.Join(", ", kinds.Select(k => $"{k.Key}: {k.Value}"));
    }

    /// <summary>The process whose command line contains <paramref name="marker"/>.</summary>
    public static int FindProcess(string marker)
    {
        foreach (string dir in Directory.EnumerateDirectories("/proc"))
        {
            if (!int.TryParse(Path.GetFileName(dir), out int pid) || pid == Environment.ProcessId)
            {
                continue;
            }

            try
            {
                if (File.ReadAllText(Path.Combine(dir, "cmdline")).Contains(marker, StringComparison.Ordinal))
                {
                    return pid;
                }
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                // Gone meanwhile, or not ours.
            }
        }

        throw new InvalidOperationException($"no process with {marker} in its command line");
    }

    /// <summary>Waits (10 s at most) until the process has at most <paramref name="limit"/> descriptors; returns the last count.</summary>
    public static async Task<int> WaitFdsAtMostAsync(int pid, int limit)
    {
        int count = FdCount(pid);
        for (int i = 0; i < 100 && count > limit; i++)
        {
            await Task.Delay(100);
            count = FdCount(pid);
        }

        return count;
    }
}
