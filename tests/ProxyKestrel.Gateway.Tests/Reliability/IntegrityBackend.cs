using System.Buffers;
using System.Buffers.Binary;
using System.Collections.Concurrent;
using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Security.Cryptography;

namespace ProxyKestrel.Gateway.Tests.Reliability;

/// <summary>
/// Deterministic pseudo-random streams: the byte at offset <c>i</c> of stream <c>seed</c> depends only on (seed, i), so
/// a receiver can check any prefix it got against the stream without the sender's help, whatever the read sizes.
/// (SplitMix64 of the 8-byte block index.)
/// </summary>
internal static class IntegrityData
{
    public static void Fill(ulong seed, long offset, Span<byte> destination)
    {
        Span<byte> block = stackalloc byte[8];
        long index = offset >> 3;
        int skip = (int)(offset & 7);
        int written = 0;
        while (written < destination.Length)
        {
            BinaryPrimitives.WriteUInt64LittleEndian(block, Mix(seed, index));
            int take = Math.Min(8 - skip, destination.Length - written);
            if (skip == 0 && take == 8)
            {
                // Whole blocks: write straight into the destination.
                while (destination.Length - written >= 8)
                {
                    BinaryPrimitives.WriteUInt64LittleEndian(destination[written..], Mix(seed, index));
                    written += 8;
                    index++;
                }

                continue;
            }

            block.Slice(skip, take).CopyTo(destination[written..]);
            written += take;
            skip = 0;
            index++;
        }
    }

    /// <summary>The stream the backend sends back for a client stream <paramref name="seed"/>.</summary>
    public static ulong DownSeed(ulong seed) => seed ^ 0xD0D0_5EED_0000_0001UL;

    private static ulong Mix(ulong seed, long index)
    {
        ulong z = seed + ((ulong)index + 1) * 0x9E3779B97F4A7C15UL;
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9UL;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EBUL;
        return z ^ (z >> 31);
    }
}

/// <summary>What the backend saw on one connection (live counters while it runs).</summary>
internal sealed class BackendSession
{
    private long _upBytes;
    private long _downBytes;

    public required ProxyProtocolVersion? Version { get; init; }

    public required IPEndPoint? Source { get; init; }

    public required IPEndPoint? Destination { get; init; }

    public long UpBytes => Interlocked.Read(ref _upBytes);

    public long DownBytes => Interlocked.Read(ref _downBytes);

    /// <summary>Offset of the first received byte that differed from the client's stream, or -1.</summary>
    public long FirstMismatch { get; set; } = -1;

    public byte[]? UpHash { get; set; }

    public byte[]? DownHash { get; set; }

    public Exception? Error { get; set; }

    /// <summary>When the connection ended (both directions done, or an error), from <see cref="Stopwatch.GetTimestamp"/>.</summary>
    public long EndedAt { get; set; }

    public TaskCompletionSource Ended { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

    public void AddUp(long n) => Interlocked.Add(ref _upBytes, n);

    public void AddDown(long n) => Interlocked.Add(ref _downBytes, n);
}

/// <summary>
/// A backend on 127.0.0.1:0 for the integrity scenarios. Per connection: reads the PROXY header with our codec (when a
/// version is expected; a missing or wrong header ends the connection with an error), then the client's 16-byte
/// prefix (stream seed, bytes wanted back; -1 = until the connection ends). Then at once: receives the client's stream
/// to its FIN, hashing it (SHA-256) and checking each byte against <see cref="IntegrityData"/>; and sends its own
/// stream, hashing it. Records everything under the PROXY header's source endpoint before half-closing, so a client
/// that saw EOF finds its session; a session found under the client's own endpoint proves the header carried it.
/// </summary>
internal sealed class IntegrityBackend : IAsyncDisposable
{
    public const int PrefixLength = 16;

    private readonly Socket _listener;
    private readonly ProxyProtocolVersion? _expected;
    private readonly int _chunk;
    private readonly CancellationTokenSource _stop = new();
    private readonly Task _acceptLoop;
    private readonly ConcurrentDictionary<Socket, byte> _open = new();
    private int _accepted;

    public IntegrityBackend(ProxyProtocolVersion? expected, int chunk = 64 * 1024, int backlog = 1024)
    {
        _expected = expected;
        _chunk = chunk;
        _listener = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        _listener.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        _listener.Listen(backlog);
        EndPoint = (IPEndPoint)_listener.LocalEndPoint!;
        _acceptLoop = AcceptLoopAsync();
    }

    public IPEndPoint EndPoint { get; }

    public string Address => $"tcp://{EndPoint}";

    /// <summary>Sessions by the PROXY header's source endpoint (the client's own endpoint when the header is right).</summary>
    public ConcurrentDictionary<string, BackendSession> Sessions { get; } = new();

    /// <summary>Connections whose header was missing, invalid or of the wrong version.</summary>
    public ConcurrentQueue<Exception> HeaderErrors { get; } = new();

    public int Accepted => Volatile.Read(ref _accepted);

    public int Open => _open.Count;

    /// <summary>Waits (bounded) for the session of the client at <paramref name="client"/>.</summary>
    public async Task<BackendSession?> WaitForSessionAsync(EndPoint client, TimeSpan timeout)
    {
        string key = client.ToString()!;
        long deadline = Environment.TickCount64 + (long)timeout.TotalMilliseconds;
        while (true)
        {
            if (Sessions.TryGetValue(key, out BackendSession? session))
            {
                return session;
            }

            if (Environment.TickCount64 > deadline)
            {
                return null;
            }

            await Task.Delay(5);
        }
    }

    /// <summary>Closes every open connection abruptly (RST when <paramref name="reset"/>, else a plain close), as a crashed backend would.</summary>
    public int KillConnections(bool reset)
    {
        int killed = 0;
        foreach (Socket socket in _open.Keys)
        {
            try
            {
                if (reset)
                {
                    socket.LingerState = new LingerOption(true, 0);
                }

                socket.Close();
                killed++;
            }
            catch (ObjectDisposedException)
            {
            }
        }

        return killed;
    }

    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync();
        _listener.Dispose();
        KillConnections(reset: true);
        try
        {
            await _acceptLoop;
        }
        catch (Exception e) when (e is OperationCanceledException or SocketException or ObjectDisposedException)
        {
        }

        _stop.Dispose();
    }

    private async Task AcceptLoopAsync()
    {
        while (!_stop.IsCancellationRequested)
        {
            Socket socket;
            try
            {
                socket = await _listener.AcceptAsync(_stop.Token);
            }
            catch (Exception e) when (e is OperationCanceledException or SocketException or ObjectDisposedException)
            {
                return;
            }

            Interlocked.Increment(ref _accepted);
            _open[socket] = 0;
            _ = Task.Run(() => ServeAsync(socket));
        }
    }

    private async Task ServeAsync(Socket socket)
    {
        BackendSession? session = null;
        byte[] buffer = ArrayPool<byte>.Shared.Rent(Math.Max(_chunk, 4096));
        try
        {
            int filled = 0;
            ProxyHeader header = default;
            bool hasHeader = false;
            if (_expected is { } expected)
            {
                while (true)
                {
                    int n = await socket.ReceiveAsync(buffer.AsMemory(filled), SocketFlags.None, _stop.Token);
                    if (n == 0)
                    {
                        throw new InvalidOperationException("closed before a complete PROXY header");
                    }

                    filled += n;
                    ProxyParseStatus status = ProxyHeaderParser.Parse(new ReadOnlySequence<byte>(buffer, 0, filled), out header, out ProxyParseError error);
                    if (status == ProxyParseStatus.Invalid)
                    {
                        throw new InvalidOperationException("invalid PROXY header: " + error.Describe());
                    }

                    if (status == ProxyParseStatus.Complete)
                    {
                        if (header.Version != expected)
                        {
                            throw new InvalidOperationException($"PROXY header {header.Version}, expected {expected}");
                        }

                        hasHeader = true;
                        Buffer.BlockCopy(buffer, header.Length, buffer, 0, filled - header.Length);
                        filled -= header.Length;
                        break;
                    }
                }
            }

            while (filled < PrefixLength)
            {
                int n = await socket.ReceiveAsync(buffer.AsMemory(filled), SocketFlags.None, _stop.Token);
                if (n == 0)
                {
                    throw new InvalidOperationException("closed before the stream prefix");
                }

                filled += n;
            }

            ulong seed = BinaryPrimitives.ReadUInt64LittleEndian(buffer);
            long wanted = BinaryPrimitives.ReadInt64LittleEndian(buffer.AsSpan(8));
            IPEndPoint? source = hasHeader ? header.GetSourceEndPoint() : (IPEndPoint?)socket.RemoteEndPoint;
            session = new BackendSession { Version = hasHeader ? header.Version : null, Source = source, Destination = hasHeader ? header.GetDestinationEndPoint() : null };
            Sessions[source?.ToString() ?? "?"] = session;

            ReadOnlyMemory<byte> rest = buffer.AsMemory(PrefixLength, filled - PrefixLength);
            // Each direction on its own work item: called inline, the sender would run until its first send that does
            // not complete at once, and against a gateway that drains as fast as it writes an endless down stream
            // never gets there, so the up direction was not read at all (4 GB down, the up stream stuck in buffers).
            Task send = Task.Run(() => SendStreamAsync(socket, session, IntegrityData.DownSeed(seed), wanted));
            Task receive = Task.Run(() => ReceiveStreamAsync(socket, session, seed, rest, buffer));
            try
            {
                await Task.WhenAll(send, receive);
            }
            finally
            {
                session.EndedAt = Stopwatch.GetTimestamp();
            }

            session.Ended.TrySetResult();
            socket.Shutdown(SocketShutdown.Send);
        }
        catch (Exception e) when (e is SocketException or OperationCanceledException or ObjectDisposedException or InvalidOperationException)
        {
            if (session is null)
            {
                HeaderErrors.Enqueue(e);
            }
            else
            {
                session.Error ??= e;
                if (session.EndedAt == 0)
                {
                    session.EndedAt = Stopwatch.GetTimestamp();
                }

                session.Ended.TrySetResult();
            }
        }
        finally
        {
            _open.TryRemove(socket, out _);
            socket.Dispose();
            ArrayPool<byte>.Shared.Return(buffer);
        }
    }

    private async Task ReceiveStreamAsync(Socket socket, BackendSession session, ulong seed, ReadOnlyMemory<byte> first, byte[] buffer)
    {
        using var hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        byte[] expected = ArrayPool<byte>.Shared.Rent(buffer.Length);
        try
        {
            long offset = 0;
            if (!first.IsEmpty)
            {
                // The rest of the first read: copied out, the buffer is reused below.
                byte[] copy = first.ToArray();
                Check(copy);
            }

            while (true)
            {
                int n = await socket.ReceiveAsync(buffer, SocketFlags.None, _stop.Token);
                if (n == 0)
                {
                    break;
                }

                Check(buffer.AsSpan(0, n));
            }

            session.UpHash = hash.GetHashAndReset();

            void Check(ReadOnlySpan<byte> data)
            {
                hash.AppendData(data);
                if (session.FirstMismatch < 0)
                {
                    Span<byte> want = expected.AsSpan(0, data.Length);
                    IntegrityData.Fill(seed, offset, want);
                    if (!data.SequenceEqual(want))
                    {
                        session.FirstMismatch = offset + data.CommonPrefixLength(want);
                    }
                }

                offset += data.Length;
                session.AddUp(data.Length);
            }
        }
        catch (Exception e) when (e is SocketException or OperationCanceledException or ObjectDisposedException)
        {
            session.Error ??= e;
            throw;
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(expected);
        }
    }

    private async Task SendStreamAsync(Socket socket, BackendSession session, ulong seed, long wanted)
    {
        using var hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        byte[] chunk = ArrayPool<byte>.Shared.Rent(_chunk);
        try
        {
            long offset = 0;
            while (wanted < 0 || offset < wanted)
            {
                int size = wanted < 0 ? _chunk : (int)Math.Min(_chunk, wanted - offset);
                IntegrityData.Fill(seed, offset, chunk.AsSpan(0, size));
                hash.AppendData(chunk, 0, size);
                int sent = 0;
                while (sent < size)
                {
                    sent += await socket.SendAsync(chunk.AsMemory(sent, size - sent), SocketFlags.None, _stop.Token);
                }

                offset += size;
                session.AddDown(size);
            }

            session.DownHash = hash.GetHashAndReset();
        }
        catch (Exception e) when (e is SocketException or OperationCanceledException or ObjectDisposedException)
        {
            session.Error ??= e;
            throw;
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(chunk);
        }
    }
}

/// <summary>What the client side of one exchange saw.</summary>
internal sealed record ClientExchange(
    EndPoint Local,
    long UpBytes,
    byte[] UpHash,
    long DownBytes,
    byte[] DownHash,
    long FirstMismatch,
    TimeSpan Elapsed);

/// <summary>The client side of the integrity scenarios.</summary>
internal static class IntegrityClient
{
    /// <summary>Connects to <paramref name="target"/> from <paramref name="from"/> (bounded), NoDelay.</summary>
    public static async Task<Socket> ConnectAsync(IPEndPoint target, string from, TimeSpan timeout)
    {
        var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
        try
        {
            socket.Bind(new IPEndPoint(IPAddress.Parse(from), 0));
            await socket.ConnectAsync(target).WaitAsync(timeout);
            return socket;
        }
        catch
        {
            socket.Dispose();
            throw;
        }
    }

    /// <summary>The 16-byte prefix: the client's stream seed and how many bytes it wants back.</summary>
    public static byte[] Prefix(ulong seed, long wanted)
    {
        byte[] prefix = new byte[IntegrityBackend.PrefixLength];
        BinaryPrimitives.WriteUInt64LittleEndian(prefix, seed);
        BinaryPrimitives.WriteInt64LittleEndian(prefix.AsSpan(8), wanted);
        return prefix;
    }

    /// <summary>
    /// Sends the prefix and <paramref name="up"/> bytes of stream <paramref name="seed"/>, half-closes, and at the same
    /// time receives to EOF, hashing both directions and checking every received byte against the backend's stream.
    /// <paramref name="pause"/> (if any) is waited between chunks, to spread a transfer over time.
    /// </summary>
    public static async Task<ClientExchange> ExchangeAsync(
        Socket socket, ulong seed, long up, long down, int chunkSize, TimeSpan timeout, TimeSpan pause = default)
    {
        using var cts = new CancellationTokenSource(timeout);
        var clock = Stopwatch.StartNew();
        EndPoint local = socket.LocalEndPoint!;
        Task<byte[]> sending = Task.Run(async () =>
        {
            using var hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
            byte[] chunk = new byte[chunkSize];
            await SendAllAsync(socket, Prefix(seed, down), cts.Token);
            for (long offset = 0; offset < up;)
            {
                int size = (int)Math.Min(chunkSize, up - offset);
                IntegrityData.Fill(seed, offset, chunk.AsSpan(0, size));
                hash.AppendData(chunk, 0, size);
                await SendAllAsync(socket, chunk.AsMemory(0, size), cts.Token);
                offset += size;
                if (pause > TimeSpan.Zero)
                {
                    await Task.Delay(pause, cts.Token);
                }
            }

            socket.Shutdown(SocketShutdown.Send);
            return hash.GetHashAndReset();
        });
        Task<(long Count, byte[] Hash, long Mismatch)> receiving = Task.Run(async () =>
        {
            using var hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
            byte[] buffer = new byte[chunkSize];
            byte[] expected = new byte[chunkSize];
            ulong downSeed = IntegrityData.DownSeed(seed);
            long count = 0;
            long mismatch = -1;
            int n;
            while ((n = await socket.ReceiveAsync(buffer, SocketFlags.None, cts.Token)) > 0)
            {
                hash.AppendData(buffer, 0, n);
                if (mismatch < 0)
                {
                    IntegrityData.Fill(downSeed, count, expected.AsSpan(0, n));
                    if (!buffer.AsSpan(0, n).SequenceEqual(expected.AsSpan(0, n)))
                    {
                        mismatch = count + buffer.AsSpan(0, n).CommonPrefixLength(expected.AsSpan(0, n));
                    }
                }

                count += n;
            }

            return (count, hash.GetHashAndReset(), mismatch);
        });
        await Task.WhenAll(sending, receiving);
        (long count, byte[] downHash, long firstMismatch) = await receiving;
        return new ClientExchange(local, up, await sending, count, downHash, firstMismatch, clock.Elapsed);
    }

    public static async Task SendAllAsync(Socket socket, ReadOnlyMemory<byte> data, CancellationToken cancellationToken)
    {
        while (!data.IsEmpty)
        {
            int sent = await socket.SendAsync(data, SocketFlags.None, cancellationToken);
            data = data[sent..];
        }
    }

    /// <summary>
    /// Checks one finished exchange against the backend's session: found under the client's own endpoint (the PROXY
    /// header carried it), right version, every byte both ways, equal SHA-256 on both ends. Returns null when all
    /// holds, else what did not.
    /// </summary>
    public static string? Verify(ClientExchange client, BackendSession? session, ProxyProtocolVersion? version, long down)
    {
        if (session is null)
        {
            return $"{client.Local}: no backend session under the client's endpoint (PROXY header source wrong or connection lost)";
        }

        if (session.Error is { } error)
        {
            return $"{client.Local}: backend error {error.GetType().Name}: {error.Message}";
        }

        if (session.Version != version)
        {
            return $"{client.Local}: backend saw header {session.Version}, expected {version}";
        }

        if (session.UpBytes != client.UpBytes || client.DownBytes != down || session.DownBytes != down)
        {
            return $"{client.Local}: bytes up {client.UpBytes} sent / {session.UpBytes} received, down {session.DownBytes} sent / {client.DownBytes} received (wanted {down})";
        }

        if (session.FirstMismatch >= 0 || client.FirstMismatch >= 0)
        {
            return $"{client.Local}: corrupted, first difference up at {session.FirstMismatch}, down at {client.FirstMismatch}";
        }

        if (!client.UpHash.AsSpan().SequenceEqual(session.UpHash) || !client.DownHash.AsSpan().SequenceEqual(session.DownHash))
        {
            return $"{client.Local}: SHA-256 differs (up {Convert.ToHexString(client.UpHash)} vs {Convert.ToHexString(session.UpHash ?? [])})";
        }

        return null;
    }

    /// <summary>True when the difference is corruption (bytes differ) rather than loss.</summary>
    public static bool IsCorruption(ClientExchange client, BackendSession? session) =>
        client.FirstMismatch >= 0 || (session is not null && session.FirstMismatch >= 0)
        || (session is { Error: null, UpHash: not null } && session.UpBytes == client.UpBytes && !client.UpHash.AsSpan().SequenceEqual(session.UpHash));

    /// <summary>Reads VmRSS and VmHWM (bytes) from /proc/PID/status.</summary>
    public static (long Rss, long Peak) ReadRss(int processId)
    {
        long rss = 0, peak = 0;
        foreach (string line in File.ReadLines($"/proc/{processId}/status"))
        {
            if (line.StartsWith("VmRSS:", StringComparison.Ordinal))
            {
                rss = ParseKb(line) * 1024;
            }
            else if (line.StartsWith("VmHWM:", StringComparison.Ordinal))
            {
                peak = ParseKb(line) * 1024;
            }
        }

        return (rss, peak);

        static long ParseKb(string line) =>
            long.Parse(line.AsSpan(6).Trim().TrimEnd("kB").Trim(), System.Globalization.CultureInfo.InvariantCulture);
    }
}
