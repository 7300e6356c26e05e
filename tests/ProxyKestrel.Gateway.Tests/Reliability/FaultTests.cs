using System.Diagnostics;
using System.Diagnostics.CodeAnalysis;
using System.Globalization;
using System.Net;
using System.Net.Sockets;
using ProxyKestrel.Gateway.Tests.Infrastructure;

namespace ProxyKestrel.Gateway.Tests.Reliability;

/// <summary>
/// Faults injected while data flows both ways through the in-process gateway: the backend killed mid-stream, the
/// client resetting mid-stream, a destination that never accepts. Every byte that did arrive is checked against the
/// deterministic stream, so a fault may cut a stream short but never corrupt it.
/// </summary>
[Collection(TimingSensitive.Name)]
[Trait("Category", "Reliability")]
public class FaultTests
{
    /// <summary>How long the other side may take to see a fault's close (measured values are far lower; see the rows).</summary>
    private static readonly TimeSpan CloseBound = TimeSpan.FromSeconds(5);

    /// <summary>Both directions carry at least this much before a fault is injected.</summary>
    private const long Flowing = 2L << 20;

    [Fact]
    public async Task BackendKilledMidStream_ClientSeesCloseAndNextConnectionIsServed()
    {
        int rounds = ReliabilityScale.Pick(4, 20);
        var tally = new FaultTally();
        await using var backend = new IntegrityBackend(ProxyProtocolVersion.V2);
        await using GatewayHost gateway = await GatewayHost.StartAsync(GatewayRelayTests.Config(backend.Address, "v2"));
        IPEndPoint listen = gateway.EndPointOf("r1");
        for (int round = 0; round < rounds; round++)
        {
            bool reset = round % 2 == 0;
            await using (FaultStream stream = await FaultStream.StartAsync(listen, "127.0.92.1", (ulong)round + 0xA000))
            {
                BackendSession? session = await stream.WaitFlowingAsync(backend, Flowing, Net.Timeout);
                if (tally.NeverFlowed(round, stream, session))
                {
                    continue;
                }

                long killedAt = Stopwatch.GetTimestamp();
                backend.KillConnections(reset);
                bool closed = await stream.WaitClosedAsync(CloseBound);
                double ms = Stopwatch.GetElapsedTime(killedAt, stream.ClosedAt == 0 ? Stopwatch.GetTimestamp() : stream.ClosedAt).TotalMilliseconds;
                tally.Latencies.Add(ms);
                if (!closed)
                {
                    tally.Lose($"round {round}: the client did not see the close within {CloseBound} ({stream.Sent} up, {stream.Received} down)");
                }

                tally.CheckPrefix(round, "kill", stream, session);
            }

            // The gateway serves the next connection (the backend still listens), whole.
            string? next = await ExchangeOnceAsync(listen, backend, "127.0.92.2", (ulong)round + 0xB000, 1L << 20);
            if (next is null)
            {
                tally.Verified += 2L << 20;
            }
            else
            {
                tally.Lose($"round {round}, next connection: {next}");
            }
        }

        tally.Finish("fault-backend-killed", "Backend killed (RST / close alternately) mid-stream: client sees the close, the next connection is served",
            rounds, "kill → client sees EOF/reset", nameof(BackendKilledMidStream_ClientSeesCloseAndNextConnectionIsServed));
    }

    [Fact]
    public async Task ClientResetsMidStream_BackendSideIsClosed()
    {
        int rounds = ReliabilityScale.Pick(4, 20);
        var tally = new FaultTally();
        await using var backend = new IntegrityBackend(ProxyProtocolVersion.V2);
        await using GatewayHost gateway = await GatewayHost.StartAsync(GatewayRelayTests.Config(backend.Address, "v2"));
        IPEndPoint listen = gateway.EndPointOf("r1");
        for (int round = 0; round < rounds; round++)
        {
            await using FaultStream stream = await FaultStream.StartAsync(listen, "127.0.92.3", (ulong)round + 0xC000);
            BackendSession? session = await stream.WaitFlowingAsync(backend, Flowing, Net.Timeout);
            if (tally.NeverFlowed(round, stream, session))
            {
                continue;
            }

            long resetAt = Stopwatch.GetTimestamp();
            stream.Reset();
            bool closed = await session.Ended.Task.WaitAsync(CloseBound).ContinueWith(t => t.IsCompletedSuccessfully, TaskScheduler.Default);
            tally.Latencies.Add(Stopwatch.GetElapsedTime(resetAt, closed ? session.EndedAt : Stopwatch.GetTimestamp()).TotalMilliseconds);
            if (!closed)
            {
                tally.Lose($"round {round}: the backend side was not closed within {CloseBound} ({session.UpBytes} up, {session.DownBytes} down)");
            }

            tally.CheckPrefix(round, "reset", stream, session);
        }

        // Nothing left open at the backend, and the gateway still relays.
        await Net.WaitUntilAsync(() => backend.Open == 0, "every backend connection closed", CloseBound);
        string? next = await ExchangeOnceAsync(listen, backend, "127.0.92.4", 0xC0FF, 1L << 20);
        if (next is not null)
        {
            tally.Lose("next connection: " + next);
        }

        tally.Finish("fault-client-reset", "Client resets (RST) mid-stream: the gateway closes the backend side",
            rounds, "client RST → backend connection ended", nameof(ClientResetsMidStream_BackendSideIsClosed));
    }


    [Fact]
    public async Task DestinationNeverAccepts_ConnectTimeoutThenFailover()
    {
        int clients = ReliabilityScale.Pick(4, 20);
        long each = ReliabilityScale.Pick(1L << 20, 8L << 20);
        var connectTimeout = TimeSpan.FromSeconds(1);
        var failures = new List<string>();
        long verified = 0, corrupted = 0, lost = 0;
        using var silent = SilentDestination.Create();
        await using var backend = new IntegrityBackend(ProxyProtocolVersion.V1);
        var log = new ListLoggerProvider();
        await using GatewayHost gateway = await GatewayHost.StartAsync(
            $$"""
            {
              "ReverseProxy": { "Clusters": { "c1": {
                "LoadBalancingPolicy": "FirstAlphabetical",
                "Metadata": { "ProxyProtocol": "v1" },
                "Destinations": { "a-silent": { "Address": "tcp://{{silent.EndPoint}}" }, "b-live": { "Address": "{{backend.Address}}" } } } } },
              "TcpProxy": { "Routes": { "r1": { "Listen": "127.0.0.1:0", "ClusterId": "c1", "ConnectTimeout": "00:00:01" } } }
            }
            """,
            logger: log);
        IPEndPoint listen = gateway.EndPointOf("r1");

        // Every client of the first wave meets the silent destination (it is first, and healthy until one of them
        // times out), waits the connect timeout, then gets the live one.
        var durations = new double[clients];
        string?[] results = await Task.WhenAll(Enumerable.Range(0, clients).Select(async i =>
        {
            var clock = Stopwatch.StartNew();
            string? failure = await ExchangeOnceAsync(listen, backend, $"127.0.92.{10 + i}", (ulong)i + 0xD000, each);
            durations[i] = clock.Elapsed.TotalSeconds;
            return failure;
        }));
        for (int i = 0; i < clients; i++)
        {
            if (results[i] is { } failure)
            {
                failures.Add($"client {i}: {failure}");
                lost++;
            }
            else
            {
                verified += 2 * each;
                if (durations[i] < connectTimeout.TotalSeconds * 0.9)
                {
                    failures.Add($"client {i} finished in {durations[i]:F2} s, before the connect timeout: the silent destination accepted?");
                }
            }
        }

        int timeouts = log.Entries.Count(e => e.EventId.Name == "DestinationConnectFailed" && e.Message.Contains("a-silent", StringComparison.Ordinal));
        if (timeouts < clients)
        {
            failures.Add($"{timeouts} connect failures to a-silent logged for {clients} clients");
        }

        // Later clients go straight to the live destination (the silent one is marked unhealthy).
        var direct = Stopwatch.StartNew();
        string? after = await ExchangeOnceAsync(listen, backend, "127.0.92.9", 0xDFFF, 64 * 1024);
        direct.Stop();
        int timeoutsAfter = log.Entries.Count(e => e.EventId.Name == "DestinationConnectFailed" && e.Message.Contains("a-silent", StringComparison.Ordinal));
        if (after is not null || timeoutsAfter != timeouts)
        {
            failures.Add($"after failover: {after ?? $"the silent destination was tried again ({timeoutsAfter - timeouts} more connect failures)"}");
            lost += after is null ? 0 : 1;
        }

        string details = string.Create(CultureInfo.InvariantCulture,
            $"ConnectTimeout 1 s; {clients} concurrent clients each waited {durations.Min():F2}–{durations.Max():F2} s (timeout + {each >> 20} MiB each way), {timeouts} connect timeouts logged; next client direct in {direct.Elapsed.TotalMilliseconds:F0} ms");
        ReliabilityResults.Append(
            IntegrityTests.Section, "fault-never-accepts", "Destination never accepts (full SYN backlog): connect timeout, failover to the second destination",
            null, clients + 1, verified, timeouts, lost, corrupted, 0,
            details + (failures.Count == 0 ? "" : "; " + failures[0]),
            IntegrityTests.Command(nameof(FaultTests), nameof(DestinationNeverAccepts_ConnectTimeoutThenFailover)), failures.Count == 0);
        Assert.True(failures.Count == 0, string.Join("\n", failures));
    }

    /// <summary>One whole exchange of <paramref name="each"/> bytes each way, verified; null when every check holds.</summary>
    internal static async Task<string?> ExchangeOnceAsync(IPEndPoint listen, IntegrityBackend backend, string from, ulong seed, long each)
    {
        try
        {
            using Socket socket = await IntegrityClient.ConnectAsync(listen, from, Net.Timeout);
            ClientExchange result = await IntegrityClient.ExchangeAsync(socket, seed, each, each, 64 * 1024, TimeSpan.FromSeconds(60));
            BackendSession? session = await backend.WaitForSessionAsync(result.Local, Net.Timeout);
            string? failure = IntegrityClient.Verify(result, session, session?.Version, each);
            backend.Sessions.TryRemove(result.Local.ToString()!, out _);
            return failure;
        }
        catch (Exception e) when (e is SocketException or OperationCanceledException or TimeoutException)
        {
            return $"{e.GetType().Name}: {e.Message}";
        }
    }

    /// <summary>The failures and figures of one fault scenario's rounds.</summary>
    private sealed class FaultTally
    {
        public List<string> Failures { get; } = [];

        public List<double> Latencies { get; } = [];

        public long Verified { get; set; }

        public long Corrupted { get; private set; }

        public long Lost { get; private set; }

        /// <summary>A failure that cost a connection.</summary>
        public void Lose(string failure)
        {
            Failures.Add(failure);
            Lost++;
        }

        /// <summary>True (and a lost connection) when data never flowed both ways.</summary>
        public bool NeverFlowed(int round, FaultStream stream, [NotNullWhen(false)] BackendSession? session)
        {
            if (session is not null)
            {
                return false;
            }

            Lose($"round {round}: data never flowed both ways ({stream.Sent} up, {stream.Received} down)");
            return true;
        }

        /// <summary>Checks the prefix received each way before the <paramref name="fault"/>, and counts it as verified.</summary>
        public void CheckPrefix(int round, string fault, FaultStream stream, BackendSession session)
        {
            if (stream.FirstMismatch >= 0 || session.FirstMismatch >= 0)
            {
                Failures.Add($"round {round}: corrupted before the {fault} (down at {stream.FirstMismatch}, up at {session.FirstMismatch})");
                Corrupted++;
            }

            Verified += stream.Received + session.UpBytes;
        }

        /// <summary>Records the row, then asserts that nothing failed.</summary>
        public void Finish(string scenario, string title, int rounds, string what, string method)
        {
            Record(scenario, title, rounds, Verified, rounds, Lost, Corrupted, Latencies, what, Failures, method);
            Assert.True(Failures.Count == 0, string.Join("\n", Failures));
        }
    }

    private static void Record(
        string scenario, string title, int rounds, long verified, long faults, long lost, long corrupted, List<double> latencies,
        string what, List<string> failures, string method)
    {
        string details = latencies.Count == 0 ? "no fault injected" : string.Create(CultureInfo.InvariantCulture,
            $"{rounds} faults while ≥ {Flowing >> 20} MiB had flowed each way; {what}: median {Median(latencies):F1} ms, max {latencies.Max():F1} ms (bound {CloseBound.TotalSeconds:F0} s); prefix received before each fault checked byte by byte");
        ReliabilityResults.Append(
            IntegrityTests.Section, scenario, title, null, 2 * rounds, verified, faults, lost, corrupted, 0,
            details + (failures.Count == 0 ? "" : "; " + failures[0]),
            IntegrityTests.Command(nameof(FaultTests), method), failures.Count == 0);
    }

    private static double Median(List<double> values)
    {
        var sorted = values.Order().ToList();
        return sorted[sorted.Count / 2];
    }

    /// <summary>
    /// A client streaming without end both ways (prefix "send forever"), checking every byte it receives; ends when the
    /// connection does (EOF, reset, or <see cref="Reset"/>).
    /// </summary>
    private sealed class FaultStream : IAsyncDisposable
    {
        private readonly Socket _socket;
        private readonly ulong _seed;
        private readonly CancellationTokenSource _stop = new();
        private readonly TaskCompletionSource _closed = new(TaskCreationOptions.RunContinuationsAsynchronously);
        private long _sent;
        private long _received;
        private Task _sending = Task.CompletedTask;
        private Task _receiving = Task.CompletedTask;

        private FaultStream(Socket socket, ulong seed)
        {
            _socket = socket;
            _seed = seed;
        }

        public long Sent => Interlocked.Read(ref _sent);

        public long Received => Interlocked.Read(ref _received);

        public long FirstMismatch { get; private set; } = -1;

        /// <summary>When the receive side saw the end (EOF or an error), from <see cref="Stopwatch.GetTimestamp"/>.</summary>
        public long ClosedAt { get; private set; }

        public EndPoint Local => _socket.LocalEndPoint!;

        public static async Task<FaultStream> StartAsync(IPEndPoint target, string from, ulong seed)
        {
            Socket socket = await IntegrityClient.ConnectAsync(target, from, Net.Timeout);
            var stream = new FaultStream(socket, seed);
            await IntegrityClient.SendAllAsync(socket, IntegrityClient.Prefix(seed, -1), CancellationToken.None);
            stream._sending = Task.Run(stream.SendAsync);
            stream._receiving = Task.Run(stream.ReceiveAsync);
            return stream;
        }

        /// <summary>Waits until both directions carried <paramref name="bytes"/>; returns the backend's session, or null.</summary>
        public async Task<BackendSession?> WaitFlowingAsync(IntegrityBackend backend, long bytes, TimeSpan timeout)
        {
            BackendSession? session = await backend.WaitForSessionAsync(Local, timeout);
            long deadline = Environment.TickCount64 + (long)timeout.TotalMilliseconds;
            while (session is not null && (session.UpBytes < bytes || Received < bytes))
            {
                if (Environment.TickCount64 > deadline || _closed.Task.IsCompleted)
                {
                    return null;
                }

                await Task.Delay(5);
            }

            return session;
        }

        public async Task<bool> WaitClosedAsync(TimeSpan timeout)
        {
            try
            {
                await _closed.Task.WaitAsync(timeout);
                return true;
            }
            catch (TimeoutException)
            {
                return false;
            }
        }

        /// <summary>Resets the connection (RST), as a crashed client would.</summary>
        public void Reset()
        {
            _socket.LingerState = new LingerOption(true, 0);
            _socket.Close();
        }

        public async ValueTask DisposeAsync()
        {
            await _stop.CancelAsync();
            _socket.Dispose();
            try
            {
                await Task.WhenAll(_sending, _receiving).WaitAsync(TimeSpan.FromSeconds(10));
            }
            catch (Exception e) when (e is SocketException or ObjectDisposedException or OperationCanceledException or TimeoutException)
            {
            }

            _stop.Dispose();
        }

        private async Task SendAsync()
        {
            byte[] chunk = new byte[64 * 1024];
            try
            {
                for (long offset = 0; !_stop.IsCancellationRequested; offset += chunk.Length)
                {
                    IntegrityData.Fill(_seed, offset, chunk);
                    await IntegrityClient.SendAllAsync(_socket, chunk, _stop.Token);
                    Interlocked.Add(ref _sent, chunk.Length);
                }
            }
            catch (Exception e) when (e is SocketException or ObjectDisposedException or OperationCanceledException)
            {
                // The connection ended.
            }
        }

        private async Task ReceiveAsync()
        {
            byte[] buffer = new byte[64 * 1024];
            byte[] expected = new byte[buffer.Length];
            ulong seed = IntegrityData.DownSeed(_seed);
            try
            {
                while (true)
                {
                    int n = await _socket.ReceiveAsync(buffer, SocketFlags.None, _stop.Token);
                    if (n == 0)
                    {
                        break;
                    }

                    long offset = Received;
                    IntegrityData.Fill(seed, offset, expected.AsSpan(0, n));
                    if (FirstMismatch < 0 && !buffer.AsSpan(0, n).SequenceEqual(expected.AsSpan(0, n)))
                    {
                        FirstMismatch = offset + buffer.AsSpan(0, n).CommonPrefixLength(expected.AsSpan(0, n));
                    }

                    Interlocked.Add(ref _received, n);
                }
            }
            catch (Exception e) when (e is SocketException or ObjectDisposedException or OperationCanceledException)
            {
                // Reset, or closed here.
            }
            finally
            {
                ClosedAt = Stopwatch.GetTimestamp();
                _closed.TrySetResult();
                await _stop.CancelAsync();
            }
        }
    }
}
