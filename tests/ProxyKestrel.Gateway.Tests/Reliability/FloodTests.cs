using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Text.Json.Nodes;
using ProxyKestrel.Gateway.Tests.Infrastructure;
using ProxyKestrel.Gateway.Tests.Observability;
using Xunit.Abstractions;

namespace ProxyKestrel.Gateway.Tests.Reliability;

/// <summary>
/// Connection floods against a gateway route with <c>MaxConnections</c> (samples/Gateway as a child process): bursts
/// of connections from 50 source addresses (127.0.0.2–51) to a backend that holds every connection. The number relayed
/// at once never exceeds MaxConnections (counted by the backend), every excess client is closed at once with no byte
/// written, and the gateway's open file descriptors come back to their baseline afterwards.
/// </summary>
[Trait("Category", "Reliability")]
[Collection(TimingSensitive.Name)]
public class FloodTests(ITestOutputHelper output)
{
    private const string Command =
        "PROXYKESTREL_RELIABILITY=full dotnet test tests/ProxyKestrel.Gateway.Tests -c Release --filter \"Category=Reliability&FullyQualifiedName~FloodTests\"";

    private const int MaxConnections = 100;
    private const int Sources = 50;

    /// <summary>A client not closed within this long after its connect is taken as relayed (held).</summary>
    private static readonly TimeSpan HeldAfter = TimeSpan.FromSeconds(1.5);

    /// <summary>Excess clients must be closed within this long after their connect.</summary>
    private static readonly TimeSpan ClosedWithin = TimeSpan.FromSeconds(1);

    [Fact]
    public async Task Flood_BurstsBeyondMaxConnections_LimitHoldsExcessClosedAtOnceNoDescriptorLeak()
    {
        int bursts = ReliabilityScale.Pick(2, 10);
        int perBurst = ReliabilityScale.Pick(300, 2_000);

        await using var backend = new FloodBackend();
        JsonObject config = ObservedGateway.Config(backend.Port, new JsonObject
        {
            ["flood"] = new JsonObject { ["Listen"] = "127.0.0.1:0", ["ClusterId"] = "backend", ["MaxConnections"] = MaxConnections },
        });
        await using ObservedGateway gateway = await ObservedGateway.StartAsync(config, "flood");
        int pid = gateway.ProcessId;
        var route = new IPEndPoint(IPAddress.Loopback, gateway.RoutePorts["flood"]);

        // Warm-up: one relayed connection, closed; then the descriptor baseline.
        using (Socket first = await Tcp.ConnectAsync(route.Port))
        {
            await Net.WaitUntilAsync(() => Task.FromResult(backend.Current == 1), "the warm-up connection relayed", TimeSpan.FromSeconds(10));
        }

        await WaitIdleAsync(gateway, backend);
        int fdBaseline = SlowlorisProcfs.FdCount(pid);
        string fdKindsBefore = SlowlorisProcfs.FdKinds(pid);

        int connectFailures = 0, slowCloses = 0, maxHeld = 0, totalRefused = 0;
        long bytesToRefused = 0;
        var closeMs = new List<double>();
        var resetAtConnect = new List<double>();
        var burstSeconds = new List<double>();
        for (int b = 0; b < bursts; b++)
        {
            var burst = Stopwatch.StartNew();
            FloodClient[] clients = await BurstAsync(route, perBurst, b);
            burstSeconds.Add(burst.Elapsed.TotalSeconds);
            FloodClient[] held = [.. clients.Where(c => c.Outcome == FloodOutcome.Held)];
            FloodClient[] refused = [.. clients.Where(c => c.Outcome == FloodOutcome.Closed)];
            connectFailures += clients.Count(c => c.Outcome == FloodOutcome.ConnectFailed);
            slowCloses += refused.Count(c => c.CloseMs > ClosedWithin.TotalMilliseconds);
            bytesToRefused += refused.Sum(c => (long)c.BytesReceived);
            closeMs.AddRange(refused.Select(c => c.CloseMs));
            resetAtConnect.AddRange(refused.Where(c => c.ResetAtConnectMs > 0).Select(c => c.ResetAtConnectMs));
            maxHeld = Math.Max(maxHeld, held.Length);
            totalRefused += refused.Length;
            output.WriteLine($"burst {b}: {held.Length} held, {refused.Length} closed, backend now {backend.Current}, max {backend.Max}, {burst.Elapsed.TotalSeconds:F1} s");

            foreach (FloodClient c in clients)
            {
                c.Socket.Dispose();
            }

            await WaitIdleAsync(gateway, backend);
        }

        int fdAfter = await SlowlorisProcfs.WaitFdsAtMostAsync(pid, fdBaseline + 5);
        string metrics = await gateway.ScrapeUntilAsync(text =>
            SlowlorisScenario.SumSeries(text, "proxykestrel_tcp_connections_total{", "proxykestrel_result=\"max_connections\"") >= totalRefused);
        double refusedByGateway = SlowlorisScenario.SumSeries(metrics, "proxykestrel_tcp_connections_total{", "proxykestrel_result=\"max_connections\"");

        double[] sorted = [.. closeMs.Order()];
        int total = bursts * perBurst;
        string details = string.Create(CultureInfo.InvariantCulture,
            $"{bursts} bursts × {perBurst} connections from {Sources} sources, MaxConnections {MaxConnections}: max relayed at once {backend.Max} (backend), max held per burst {maxHeld}; " +
            $"{totalRefused} excess closed (gateway counted {refusedByGateway}) after median/p99/max {Pct(sorted, 0.5):F1}/{Pct(sorted, 0.99):F1}/{Pct(sorted, 1):F1} ms, {slowCloses} later than {ClosedWithin.TotalSeconds:F0} s ({resetAtConnect.Count} of them reset before their connect completed, connects taking up to {resetAtConnect.DefaultIfEmpty(0).Max():F0} ms), {bytesToRefused} bytes written to them; " +
            $"{connectFailures} connect failures; bursts took {burstSeconds.Min():F1}–{burstSeconds.Max():F1} s; non-file fds (sockets, pipes, epoll) {fdBaseline} baseline -> {fdAfter} after");
        if (fdAfter > fdBaseline + 5)
        {
            details += $" (before: {fdKindsBefore}; after: {SlowlorisProcfs.FdKinds(pid)})";
        }

        output.WriteLine(details);

        bool passed = backend.Max <= MaxConnections && maxHeld <= MaxConnections && maxHeld > 0 && slowCloses == 0 && bytesToRefused == 0
            && connectFailures == 0 && refusedByGateway == totalRefused
            && fdAfter <= fdBaseline + 5;
        ReliabilityResults.Append("hostile", "flood-gateway",
            "Connection floods against a gateway route with MaxConnections: limit holds, excess closed at once, no descriptor leak",
            inputs: null, connections: total, bytesVerified: null, faults: null,
            lost: connectFailures, corrupted: 0, spoofed: null, details, Command, passed);

        Assert.True(backend.Max <= MaxConnections, $"{backend.Max} relayed at once: {details}");
        Assert.True(maxHeld is > 0 and <= MaxConnections, details);
        Assert.Equal(0, connectFailures);
        Assert.True(slowCloses == 0, $"{slowCloses} excess clients closed later than {ClosedWithin}: {details}");
        Assert.Equal(0L, bytesToRefused);
        Assert.Equal(totalRefused, (int)refusedByGateway);
        Assert.True(fdAfter <= fdBaseline + 5, $"descriptors {fdBaseline} before, {fdAfter} after: {details}");
    }

    private static double Pct(double[] sorted, double p) =>
        sorted.Length == 0 ? double.NaN : sorted[Math.Clamp((int)Math.Ceiling(p * sorted.Length) - 1, 0, sorted.Length - 1)];

    /// <summary>Waits until the backend holds nothing and the gateway reports no open connection on the route.</summary>
    private static async Task WaitIdleAsync(ObservedGateway gateway, FloodBackend backend)
    {
        await Net.WaitUntilAsync(() => Task.FromResult(backend.Current == 0), "the backend connections closed", TimeSpan.FromSeconds(15));
        string text = await gateway.ScrapeUntilAsync(t =>
            SlowlorisScenario.SumSeries(t, "proxykestrel_tcp_active_connections{", "proxykestrel_route=\"flood\"") == 0);
        Assert.Equal(0, SlowlorisScenario.SumSeries(text, "proxykestrel_tcp_active_connections{", "proxykestrel_route=\"flood\""));
    }

    /// <summary>Opens <paramref name="count"/> connections as fast as 200 concurrent connects allow; each is watched for <see cref="HeldAfter"/>.</summary>
    private static async Task<FloodClient[]> BurstAsync(IPEndPoint route, int count, int burst)
    {
        using var gate = new SemaphoreSlim(200);
        var clients = new FloodClient[count];
        var tasks = new Task[count];
        for (int i = 0; i < count; i++)
        {
            await gate.WaitAsync(TimeSpan.FromSeconds(30));
            var source = IPAddress.Parse("127.0.0." + (2 + ((i + burst) % Sources)).ToString(CultureInfo.InvariantCulture));
            var client = new FloodClient(new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp));
            clients[i] = client;
            tasks[i] = client.RunAsync(source, route, gate);
        }

        await Task.WhenAll(tasks).WaitAsync(TimeSpan.FromSeconds(120));
        return clients;
    }

    private enum FloodOutcome
    {
        ConnectFailed,
        Closed,
        Held,
    }

    private sealed class FloodClient(Socket socket)
    {
        public Socket Socket { get; } = socket;

        public FloodOutcome Outcome { get; private set; }

        public double CloseMs { get; private set; }

        public int BytesReceived { get; private set; }

        /// <summary>For a client reset before its connect completed: how long the connect took; else 0.</summary>
        public double ResetAtConnectMs { get; private set; }

        public async Task RunAsync(IPAddress source, IPEndPoint route, SemaphoreSlim gate)
        {
            long started = Stopwatch.GetTimestamp();
            try
            {
                Socket.Bind(new IPEndPoint(source, 0));
                using var connectTimeout = new CancellationTokenSource(TimeSpan.FromSeconds(10));
                await Socket.ConnectAsync(route, connectTimeout.Token);
            }
            catch (SocketException e) when (e.SocketErrorCode == SocketError.ConnectionReset)
            {
                // Accepted and reset by the gateway before the connect's completion was even reported: closed at once.
                // (How long the connect itself took, SYN retransmits included, is reported apart.)
                ResetAtConnectMs = Stopwatch.GetElapsedTime(started).TotalMilliseconds;
                Outcome = FloodOutcome.Closed;
                return;
            }
            catch (Exception e) when (e is SocketException or OperationCanceledException)
            {
                Outcome = FloodOutcome.ConnectFailed;
                return;
            }
            finally
            {
                gate.Release();
            }

            long connected = Stopwatch.GetTimestamp();
            byte[] buffer = new byte[64];
            using var watch = new CancellationTokenSource(HeldAfter);
            try
            {
                while (true)
                {
                    int read = await Socket.ReceiveAsync(buffer, SocketFlags.None, watch.Token);
                    if (read == 0)
                    {
                        break;
                    }

                    BytesReceived += read;
                }
            }
            catch (OperationCanceledException)
            {
                Outcome = FloodOutcome.Held;
                return;
            }
            catch (SocketException)
            {
                // Reset: closed too.
            }

            CloseMs = Stopwatch.GetElapsedTime(connected).TotalMilliseconds;
            Outcome = FloodOutcome.Closed;
        }
    }
}

/// <summary>A backend that accepts and holds every connection until its peer closes; counts them (now and at most).</summary>
internal sealed class FloodBackend : IAsyncDisposable
{
    private readonly TcpListener _listener = new(IPAddress.Loopback, 0);
    private readonly CancellationTokenSource _stop = new();
    private readonly Task _loop;
    private int _current;
    private int _max;

    public FloodBackend()
    {
        _listener.Start(1024);
        _loop = AcceptAsync();
    }

    public int Port => ((IPEndPoint)_listener.LocalEndpoint).Port;

    public int Current => Volatile.Read(ref _current);

    public int Max => Volatile.Read(ref _max);

    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync();
        _listener.Stop();
        try
        {
            await _loop.WaitAsync(TimeSpan.FromSeconds(10));
        }
        catch (Exception)
        {
            // Stopped.
        }

        _stop.Dispose();
    }

    private async Task AcceptAsync()
    {
        for (int i = 0; i < 10_000_000 && !_stop.IsCancellationRequested; i++)
        {
            Socket socket = await _listener.AcceptSocketAsync(_stop.Token);
            int now = Interlocked.Increment(ref _current);
            int max;
            while (now > (max = Volatile.Read(ref _max)) && Interlocked.CompareExchange(ref _max, now, max) != max)
            {
            }

            _ = HoldAsync(socket);
        }
    }

    private async Task HoldAsync(Socket socket)
    {
        using (socket)
        {
            byte[] buffer = new byte[64];
            try
            {
                while (await socket.ReceiveAsync(buffer, SocketFlags.None, _stop.Token) > 0)
                {
                }
            }
            catch (Exception e) when (e is SocketException or OperationCanceledException or ObjectDisposedException)
            {
                // The gateway closed it, or the backend stops.
            }
        }

        Interlocked.Decrement(ref _current);
    }
}
