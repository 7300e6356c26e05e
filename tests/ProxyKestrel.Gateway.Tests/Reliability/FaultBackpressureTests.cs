using System.Buffers;
using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Security.Cryptography;
using System.Text.Json.Nodes;
using ProxyKestrel.Gateway.Tests.Infrastructure;
using ProxyKestrel.Gateway.Tests.Observability;

namespace ProxyKestrel.Gateway.Tests.Reliability;

/// <summary>
/// A backend that accepts but does not read, while the client pushes 1 GiB (smoke 128 MiB) through samples/Gateway
/// run as a process of its own, so its resident memory can be read from /proc/PID/status.
/// <para>
/// The bound, 64 MiB of RSS above the idle gateway's: per relayed connection the gateway holds in user space at most
/// Kestrel's input pipe (the socket transport stops reading the client at <c>MaxReadBufferSize</c>, 1 MiB, and the relay
/// frees a segment only after the backend socket took it) plus one 64 KiB block being received, and the reverse pipe
/// (paused at 256 KiB); its memory pool keeps at most 256 free 64 KiB blocks (16 MiB). Everything else in flight sits
/// in the kernel's socket buffers (client send, gateway receive and send, backend receive), which are not the
/// process's RSS. So a stalled connection should cost ~1.3 MiB; 64 MiB leaves room for JIT, GC and thread stacks, and a
/// relay that buffered the client's stream in memory would blow through it at once (the client pushes 2–16 times more).
/// </para>
/// </summary>
[Collection(TimingSensitive.Name)]
[Trait("Category", "Reliability")]
public class FaultBackpressureTests
{
    private const long RssBound = 64L << 20;

    /// <summary>The client may get this much into the pipe and the kernel's buffers before its send stalls.</summary>
    private const long StallBound = 64L << 20;

    [Fact]
    public async Task BackendNeverReads_ClientStallsAndGatewayMemoryStaysBounded()
    {
        long total = ReliabilityScale.Pick(128L << 20, 1L << 30);
        long burst = ReliabilityScale.Pick(32L << 20, 64L << 20);
        var failures = new List<string>();
        using var listener = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        listener.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        listener.Listen(8);
        JsonObject config = ObservedGateway.Config(((IPEndPoint)listener.LocalEndPoint!).Port, new JsonObject { ["r1"] = ObservedGateway.Route() });
        config["ReverseProxy"]!["Clusters"]!["backend"]!["Metadata"] = new JsonObject { ["ProxyProtocol"] = "v2" };
        await using ObservedGateway gateway = await ObservedGateway.StartAsync(config, "r1");
        int pid = gateway.ProcessId;

        await Task.Delay(1000);
        (long baseline, _) = IntegrityClient.ReadRss(pid);
        long peak = baseline;
        using var stopSampling = new CancellationTokenSource();
        Task sampler = Task.Run(async () =>
        {
            while (!stopSampling.IsCancellationRequested)
            {
                try
                {
                    long rss = IntegrityClient.ReadRss(pid).Rss;
                    Interlocked.Exchange(ref peak, Math.Max(Interlocked.Read(ref peak), rss));
                    await Task.Delay(25, stopSampling.Token);
                }
                catch (Exception e) when (e is OperationCanceledException or IOException)
                {
                    return;
                }
            }
        });

        using Socket client = await IntegrityClient.ConnectAsync(new IPEndPoint(IPAddress.Loopback, gateway.RoutePorts["r1"]), "127.0.93.1", Net.Timeout);
        using Socket backend = await listener.AcceptAsync().WaitAsync(Net.Timeout);
        (ProxyHeader header, byte[] leftover) = await ReadHeaderAsync(backend);
        if (!Equals(header.GetSourceEndPoint(), client.LocalEndPoint))
        {
            failures.Add($"PROXY header source {header.GetSourceEndPoint()}, client {client.LocalEndPoint}");
        }

        const ulong seed = 0xBAC4;
        long sent = 0;
        using var sendTimeout = new CancellationTokenSource(ReliabilityScale.Pick(TimeSpan.FromSeconds(60), TimeSpan.FromMinutes(5)));
        Task<byte[]> sending = Task.Run(async () =>
        {
            using var hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
            byte[] chunk = new byte[64 * 1024];
            for (long offset = 0; offset < total; offset += chunk.Length)
            {
                IntegrityData.Fill(seed, offset, chunk);
                hash.AppendData(chunk);
                await IntegrityClient.SendAllAsync(client, chunk, sendTimeout.Token);
                Interlocked.Add(ref sent, chunk.Length);
            }

            client.Shutdown(SocketShutdown.Send);
            return hash.GetHashAndReset();
        });

        // Phase 1: nobody reads; the client's send must stall.
        long stalledAt = await WaitForStallAsync(() => Interlocked.Read(ref sent), sending, TimeSpan.FromSeconds(30));
        long rssStalled = IntegrityClient.ReadRss(pid).Rss;
        if (sending.IsCompleted || stalledAt >= StallBound)
        {
            failures.Add($"the client's send did not stall: {stalledAt} bytes taken while the backend read nothing");
        }

        // Phase 2: the backend reads in bursts, pausing between them so the stall comes back again and again, until
        // all of it arrived; every byte is checked.
        int stalls = 1;
        long received = 0;
        long firstMismatch = -1;
        var clock = Stopwatch.StartNew();
        using (var hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256))
        {
            byte[] buffer = new byte[256 * 1024];
            byte[] expected = new byte[buffer.Length];
            using var readTimeout = new CancellationTokenSource(ReliabilityScale.Pick(TimeSpan.FromSeconds(60), TimeSpan.FromMinutes(5)));
            try
            {
                Check(leftover);
                long nextPause = burst;
                while (true)
                {
                    int n = await backend.ReceiveAsync(buffer, SocketFlags.None, readTimeout.Token);
                    if (n == 0)
                    {
                        break;
                    }

                    Check(buffer.AsSpan(0, n));
                    if (received >= nextPause && received < total)
                    {
                        nextPause += burst;
                        stalls++;
                        await Task.Delay(300);
                    }
                }
            }
            catch (Exception e) when (e is SocketException or OperationCanceledException)
            {
                failures.Add($"backend read failed after {received} bytes: {e.GetType().Name}: {e.Message}");
            }

            byte[] receivedHash = hash.GetHashAndReset();
            byte[]? sentHash = null;
            try
            {
                sentHash = await sending.WaitAsync(Net.Timeout);
            }
            catch (Exception e) when (e is SocketException or OperationCanceledException or TimeoutException)
            {
                failures.Add($"client send failed after {Interlocked.Read(ref sent)} bytes: {e.Message}");
            }

            if (received != total || firstMismatch >= 0 || sentHash is null || !sentHash.AsSpan().SequenceEqual(receivedHash))
            {
                failures.Add($"received {received} of {total} bytes, first difference at {firstMismatch}, SHA-256 {(sentHash is null ? "?" : Convert.ToHexString(sentHash)[..16])} vs {Convert.ToHexString(receivedHash)[..16]}");
            }

            void Check(ReadOnlySpan<byte> data)
            {
                hash.AppendData(data);
                IntegrityData.Fill(seed, received, expected.AsSpan(0, data.Length));
                if (firstMismatch < 0 && !data.SequenceEqual(expected.AsSpan(0, data.Length)))
                {
                    firstMismatch = received + data.CommonPrefixLength(expected.AsSpan(0, data.Length));
                }

                received += data.Length;
            }
        }

        double seconds = clock.Elapsed.TotalSeconds;
        await stopSampling.CancelAsync();
        await sampler;
        (long rssEnd, long hwm) = IntegrityClient.ReadRss(pid);
        long growth = peak - baseline;
        if (growth >= RssBound)
        {
            failures.Add($"gateway RSS grew by {growth >> 20} MiB (baseline {baseline >> 20} MiB, peak {peak >> 20} MiB), bound {RssBound >> 20} MiB");
        }

        string details = string.Create(CultureInfo.InvariantCulture,
            $"gateway as a process: RSS baseline {baseline / 1048576.0:F1} MiB, while stalled {rssStalled / 1048576.0:F1} MiB, peak {peak / 1048576.0:F1} MiB (+{growth / 1048576.0:F1} MiB, bound +{RssBound >> 20} MiB), VmHWM {hwm / 1048576.0:F1} MiB, end {rssEnd / 1048576.0:F1} MiB; client stalled after {stalledAt / 1048576.0:F1} MiB with the backend not reading; then {total >> 20} MiB read in {burst >> 20} MiB bursts with 300 ms pauses ({stalls} stalls) in {seconds:F1} s, every byte checked, SHA-256 equal");
        bool passed = failures.Count == 0;
        ReliabilityResults.Append(
            IntegrityTests.Section, "fault-backpressure", $"Backend accepts but does not read while the client pushes {total >> 20} MiB: send stalls, gateway RSS bounded",
            null, 1, passed ? total : null, stalls, received == total ? 0 : 1, firstMismatch >= 0 ? 1 : 0, 0,
            details + (passed ? "" : "; " + failures[0]),
            IntegrityTests.Command(nameof(FaultBackpressureTests), nameof(BackendNeverReads_ClientStallsAndGatewayMemoryStaysBounded)), passed);
        Assert.True(passed, string.Join("\n", failures));
    }

    /// <summary>Waits until <paramref name="progress"/> has not moved for a second; returns where it stopped.</summary>
    private static async Task<long> WaitForStallAsync(Func<long> progress, Task sending, TimeSpan timeout)
    {
        long last = -1;
        var still = Stopwatch.StartNew();
        var deadline = Stopwatch.StartNew();
        while (deadline.Elapsed < timeout && !sending.IsCompleted)
        {
            long now = progress();
            if (now != last)
            {
                last = now;
                still.Restart();
            }
            else if (still.Elapsed > TimeSpan.FromSeconds(1))
            {
                break;
            }

            await Task.Delay(50);
        }

        return progress();
    }

    /// <summary>Reads the PROXY header with our codec; returns it and the bytes received after it.</summary>
    private static async Task<(ProxyHeader Header, byte[] Leftover)> ReadHeaderAsync(Socket socket)
    {
        byte[] buffer = new byte[4096];
        int filled = 0;
        using var timeout = new CancellationTokenSource(Net.Timeout);
        while (true)
        {
            int n = await socket.ReceiveAsync(buffer.AsMemory(filled), SocketFlags.None, timeout.Token);
            Assert.True(n > 0, "closed before a complete PROXY header");
            filled += n;
            ProxyParseStatus status = ProxyHeaderParser.Parse(new ReadOnlySequence<byte>(buffer, 0, filled), out ProxyHeader header, out ProxyParseError error);
            Assert.True(status != ProxyParseStatus.Invalid, error.Describe());
            if (status == ProxyParseStatus.Complete)
            {
                Assert.Equal(ProxyProtocolVersion.V2, header.Version);
                return (header, buffer[header.Length..filled]);
            }
        }
    }
}
