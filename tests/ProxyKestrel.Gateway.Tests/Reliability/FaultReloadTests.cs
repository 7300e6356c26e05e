using System.Collections.Concurrent;
using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Sockets;
using Microsoft.Extensions.DependencyInjection;
using ProxyKestrel.Gateway.Listeners;
using ProxyKestrel.Gateway.Routing;
using ProxyKestrel.Gateway.Tests.Infrastructure;
using Yarp.ReverseProxy;
using Yarp.ReverseProxy.Model;

namespace ProxyKestrel.Gateway.Tests.Reliability;

/// <summary>
/// Configuration reloads (the file rewritten: timeouts changed, a second destination added and removed, the same
/// content written again) while connections keep transferring through the in-process gateway: 50 reloads under 200
/// concurrent transfers (smoke 10 under 40). Each worker opens connection after connection, each carrying a paced
/// stream both ways that is verified end to end; none may be dropped or corrupted.
/// </summary>
[Collection(TimingSensitive.Name)]
[Trait("Category", "Reliability")]
public class FaultReloadTests
{
    [Fact]
    public async Task ReloadsWhileConnectionsTransfer_NothingDroppedOrCorrupted()
    {
        int reloads = ReliabilityScale.Pick(10, 50);
        int workers = ReliabilityScale.Pick(40, 200);
        long each = ReliabilityScale.Pick(128L * 1024, 512L * 1024);
        var failures = new ConcurrentQueue<string>();
        long connections = 0, verified = 0, lost = 0, corrupted = 0;
        await using var first = new IntegrityBackend(ProxyProtocolVersion.V2, chunk: 16 * 1024);
        await using var second = new IntegrityBackend(ProxyProtocolVersion.V2, chunk: 16 * 1024);
        using var log = new AppliedCounter();
        await using GatewayHost gateway = await GatewayHost.StartAsync(Json(first, second, 2, 1, withSecond: false), logger: log);
        IPEndPoint listen = gateway.EndPointOf("r1");
        var manager = gateway.Services.GetRequiredService<TcpProxyListenerManager>();
        var clusters = gateway.Services.GetRequiredService<IProxyStateLookup>();

        using var stop = new CancellationTokenSource();
        Task[] running = [.. Enumerable.Range(0, workers).Select(w => Task.Run(async () =>
        {
            string from = $"127.0.94.{10 + (w % 200)}";
            for (int n = 0; n < 100_000 && !stop.IsCancellationRequested; n++)
            {
                Interlocked.Increment(ref connections);
                try
                {
                    using Socket socket = await IntegrityClient.ConnectAsync(listen, from, Net.Timeout);
                    ClientExchange result = await IntegrityClient.ExchangeAsync(
                        socket, ((ulong)w << 32) | (uint)n, each, each, 16 * 1024, TimeSpan.FromSeconds(60), TimeSpan.FromMilliseconds(10));
                    BackendSession? session = await FindSessionAsync(result.Local, first, second);
                    if (IntegrityClient.Verify(result, session, ProxyProtocolVersion.V2, each) is { } failure)
                    {
                        failures.Enqueue(failure);
                        Interlocked.Increment(ref IntegrityClient.IsCorruption(result, session) ? ref corrupted : ref lost);
                    }
                    else
                    {
                        Interlocked.Add(ref verified, 2 * each);
                    }

                    string key = result.Local.ToString()!;
                    first.Sessions.TryRemove(key, out _);
                    second.Sessions.TryRemove(key, out _);
                }
                catch (Exception e) when (e is SocketException or OperationCanceledException or TimeoutException)
                {
                    failures.Enqueue($"worker {w}, connection {n}: {e.GetType().Name}: {e.Message}");
                    Interlocked.Increment(ref lost);
                }
            }
        }))];

        // The reloads, each waited for until it shows (bounded), while the workers run.
        await Task.Delay(500);
        int applied = 0;
        bool withSecond = false;
        int connectSeconds = 2, idleMinutes = 1;
        var clock = Stopwatch.StartNew();
        for (int i = 0; i < reloads && failures.IsEmpty; i++)
        {
            int before = AppliedCount(log);
            Func<bool> done;
            string kind;
            switch (i % 4)
            {
                case 0:
                    connectSeconds = 2 + (i % 3);
                    idleMinutes = 1 + (i % 2);
                    var connectTimeout = TimeSpan.FromSeconds(connectSeconds);
                    kind = "timeouts";
                    done = () => manager.Routes.Count == 1 && manager.Routes[0].ConnectTimeout == connectTimeout;
                    break;
                case 1:
                    withSecond = true;
                    kind = "add destination";
                    done = () => DestinationCount(clusters) == 2;
                    break;
                case 2:
                    kind = "touch";
                    done = () => AppliedCount(log) > before;
                    break;
                default:
                    withSecond = false;
                    kind = "remove destination";
                    done = () => DestinationCount(clusters) == 1;
                    break;
            }

            await File.WriteAllTextAsync(gateway.ConfigPath, Json(first, second, connectSeconds, idleMinutes, withSecond));
            long deadline = Environment.TickCount64 + 10_000;
            while (!done() && Environment.TickCount64 < deadline)
            {
                await Task.Delay(20);
            }

            if (!done())
            {
                failures.Enqueue($"reload {i} ({kind}) did not apply within 10 s");
                break;
            }

            applied++;
            await Task.Delay(250);
        }

        double reloadSeconds = clock.Elapsed.TotalSeconds;
        await stop.CancelAsync();
        try
        {
            await Task.WhenAll(running).WaitAsync(TimeSpan.FromSeconds(120));
        }
        catch (TimeoutException)
        {
            failures.Enqueue("workers did not finish within 120 s of the last reload");
        }

        if (second.Accepted == 0 && reloads > 1)
        {
            failures.Enqueue("no connection ever reached the added destination");
        }

        bool passed = failures.IsEmpty && applied == reloads;
        string details = string.Create(CultureInfo.InvariantCulture,
            $"{applied} reloads applied in {reloadSeconds:F1} s (timeouts / add d2 / touch / remove d2 in turn) under {workers} concurrent workers; {connections} connections of {each >> 10} KiB each way (paced 16 KiB / 10 ms), {first.Accepted} to d1, {second.Accepted} to d2; each verified by SHA-256 on both ends and byte by byte");
        ReliabilityResults.Append(
            IntegrityTests.Section, "fault-reloads", $"{reloads} configuration reloads while {workers} connections transfer: 0 dropped, 0 corrupted",
            null, connections, verified, applied, lost, corrupted, 0,
            details + (failures.IsEmpty ? "" : "; first failure: " + failures.First()),
            IntegrityTests.Command(nameof(FaultReloadTests), nameof(ReloadsWhileConnectionsTransfer_NothingDroppedOrCorrupted)), passed);
        Assert.True(failures.IsEmpty, $"{failures.Count} failure(s):\n{string.Join("\n", failures.Take(10))}");
        Assert.Equal(reloads, applied);
    }

    private static string Json(IntegrityBackend first, IntegrityBackend second, int connectSeconds, int idleMinutes, bool withSecond) => $$"""
        {
          "ReverseProxy": { "Clusters": { "c1": {
            "Metadata": { "ProxyProtocol": "v2" },
            "Destinations": { "d1": { "Address": "{{first.Address}}" }{{(withSecond ? $", \"d2\": {{ \"Address\": \"{second.Address}\" }}" : "")}} } } } },
          "TcpProxy": { "Routes": { "r1": { "Listen": "127.0.0.1:0", "ClusterId": "c1",
            "ConnectTimeout": "00:00:0{{connectSeconds}}", "IdleTimeout": "00:0{{idleMinutes}}:00" } } }
        }
        """;

    private static int AppliedCount(AppliedCounter log) => log.Count;

    private static int DestinationCount(IProxyStateLookup clusters) =>
        clusters.TryGetCluster("c1", out ClusterState? cluster) ? cluster.Destinations.Count : -1;

    private static async Task<BackendSession?> FindSessionAsync(EndPoint client, IntegrityBackend first, IntegrityBackend second)
    {
        string key = client.ToString()!;
        long deadline = Environment.TickCount64 + 10_000;
        while (Environment.TickCount64 < deadline)
        {
            if (first.Sessions.TryGetValue(key, out BackendSession? session) || second.Sessions.TryGetValue(key, out session))
            {
                return session;
            }

            await Task.Delay(5);
        }

        return null;
    }

    /// <summary>Counts the gateway's "configuration applied" log events (and ignores everything else, cheaply).</summary>
    private sealed class AppliedCounter : Microsoft.Extensions.Logging.ILoggerProvider, Microsoft.Extensions.Logging.ILogger
    {
        private int _count;

        public int Count => Volatile.Read(ref _count);

        public Microsoft.Extensions.Logging.ILogger CreateLogger(string categoryName) => this;

        public IDisposable? BeginScope<TState>(TState state)
            where TState : notnull => null;

        public bool IsEnabled(Microsoft.Extensions.Logging.LogLevel logLevel) => logLevel >= Microsoft.Extensions.Logging.LogLevel.Information;

        public void Log<TState>(Microsoft.Extensions.Logging.LogLevel logLevel, Microsoft.Extensions.Logging.EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
        {
            if (eventId.Name == "ConfigApplied")
            {
                Interlocked.Increment(ref _count);
            }
        }

        public void Dispose()
        {
        }
    }
}
