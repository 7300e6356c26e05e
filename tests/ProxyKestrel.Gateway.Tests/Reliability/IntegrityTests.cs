using System.Collections.Concurrent;
using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Sockets;
using ProxyKestrel.Gateway.Tests.Infrastructure;

namespace ProxyKestrel.Gateway.Tests.Reliability;

/// <summary>
/// Bulk integrity through the in-process gateway, PROXY v1 and v2: one connection carrying 1 GiB each way (smoke
/// 64 MiB), and 1,000 concurrent connections × 1 MiB each way (smoke 100 × 256 KiB). The backend decodes the header
/// with our codec and files each connection under the header's source endpoint, which must be the client's own; both
/// ends hash what they sent and received (SHA-256) and check every byte against the deterministic stream.
/// </summary>
[Collection(TimingSensitive.Name)]
[Trait("Category", "Reliability")]
public class IntegrityTests
{
    internal const string Section = "integrity";

    [Theory]
    [InlineData("v1")]
    [InlineData("v2")]
    public async Task Bulk_OneConnectionEachWay_Sha256EqualOnBothEnds(string version)
    {
        long size = ReliabilityScale.Pick(64L << 20, 1L << 30);
        ProxyProtocolVersion expected = Version(version);
        string scenario = $"bulk-1gib-{version}";
        string? failure = null;
        ClientExchange? result = null;
        bool corrupted = false;
        await using (var backend = new IntegrityBackend(expected, chunk: 256 * 1024))
        await using (GatewayHost gateway = await GatewayHost.StartAsync(GatewayRelayTests.Config(backend.Address, version)))
        {
            IPEndPoint listen = gateway.EndPointOf("r1");
            try
            {
                using Socket client = await IntegrityClient.ConnectAsync(listen, "127.0.90.1", Net.Timeout);
                result = await IntegrityClient.ExchangeAsync(
                    client, 0x1000 + (ulong)expected, size, size, 256 * 1024, ReliabilityScale.Pick(TimeSpan.FromSeconds(90), TimeSpan.FromMinutes(8)));
                BackendSession? session = await backend.WaitForSessionAsync(result.Local, Net.Timeout);
                failure = IntegrityClient.Verify(result, session, expected, size);
                corrupted = IntegrityClient.IsCorruption(result, session);
                if (failure is null && !listen.Equals(session!.Destination))
                {
                    failure = $"header destination {session.Destination}, expected the dialled {listen}";
                }
            }
            catch (Exception e) when (e is SocketException or OperationCanceledException or TimeoutException)
            {
                failure = $"{e.GetType().Name}: {e.Message}";
            }
        }

        double seconds = result?.Elapsed.TotalSeconds ?? 0;
        string details = result is null
            ? failure ?? ""
            : string.Create(CultureInfo.InvariantCulture, $"{size >> 20} MiB up + {size >> 20} MiB down in {seconds:F1} s ({2.0 * size / seconds / 1e6:F0} MB/s both ways together), in-process gateway, {version}, SHA-256 up {Convert.ToHexString(result.UpHash)[..16]}…, down {Convert.ToHexString(result.DownHash)[..16]}…{(failure is null ? "" : "; " + failure)}");
        ReliabilityResults.Append(
            Section, scenario, $"1 GiB each way through the gateway, PROXY {version}, SHA-256 equal on both ends",
            null, 1, failure is null ? 2 * size : null, 0, failure is null || corrupted ? 0 : 1, corrupted ? 1 : 0, 0,
            details, Command(nameof(IntegrityTests), nameof(Bulk_OneConnectionEachWay_Sha256EqualOnBothEnds)), failure is null);
        Assert.True(failure is null, failure);
    }

    [Fact]
    public async Task Concurrent_ManyConnectionsEachWay_EveryHashEqual()
    {
        int count = ReliabilityScale.Pick(100, 1000);
        long each = ReliabilityScale.Pick(256L * 1024, 1L << 20);
        var failures = new ConcurrentQueue<string>();
        long lost = 0, corrupted = 0, verified = 0;
        var details = new List<string>();
        foreach (string version in (string[])["v1", "v2"])
        {
            ProxyProtocolVersion expected = Version(version);
            await using var backend = new IntegrityBackend(expected, chunk: 16 * 1024, backlog: 2048);
            await using GatewayHost gateway = await GatewayHost.StartAsync(GatewayRelayTests.Config(backend.Address, version));
            IPEndPoint listen = gateway.EndPointOf("r1");

            // Open every connection first (at most 64 connects in flight), so all of them are open at once.
            var sockets = new Socket?[count];
            using (var gate = new SemaphoreSlim(64))
            {
                await Task.WhenAll(Enumerable.Range(0, count).Select(async i =>
                {
                    await gate.WaitAsync();
                    try
                    {
                        sockets[i] = await IntegrityClient.ConnectAsync(listen, $"127.0.91.{1 + (i % 200)}", TimeSpan.FromSeconds(30));
                    }
                    catch (Exception e) when (e is SocketException or TimeoutException)
                    {
                        failures.Enqueue($"{version} #{i}: connect failed: {e.Message}");
                    }
                    finally
                    {
                        gate.Release();
                    }
                }));
            }

            int open = sockets.Count(s => s is not null);
            await Net.WaitUntilAsync(() => backend.Accepted >= open, $"{open} backend connections", TimeSpan.FromSeconds(30));
            int concurrent = backend.Open;
            var clock = Stopwatch.StartNew();
            await Task.WhenAll(Enumerable.Range(0, count).Select(async i =>
            {
                using Socket? socket = sockets[i];
                if (socket is null)
                {
                    Interlocked.Increment(ref lost);
                    return;
                }

                try
                {
                    ClientExchange result = await IntegrityClient.ExchangeAsync(
                        socket, (ulong)(i + 1) << 8 | (ulong)expected, each, each, 16 * 1024, ReliabilityScale.Pick(TimeSpan.FromSeconds(60), TimeSpan.FromMinutes(5)));
                    BackendSession? session = await backend.WaitForSessionAsync(result.Local, Net.Timeout);
                    if (IntegrityClient.Verify(result, session, expected, each) is { } failure)
                    {
                        failures.Enqueue($"{version}: {failure}");
                        Interlocked.Increment(ref IntegrityClient.IsCorruption(result, session) ? ref corrupted : ref lost);
                    }
                    else
                    {
                        Interlocked.Add(ref verified, 2 * each);
                    }
                }
                catch (Exception e) when (e is SocketException or OperationCanceledException)
                {
                    failures.Enqueue($"{version} #{i}: {e.GetType().Name}: {e.Message}");
                    Interlocked.Increment(ref lost);
                }
            }));
            double seconds = clock.Elapsed.TotalSeconds;
            details.Add(string.Create(CultureInfo.InvariantCulture, $"{version}: {count} open at once (backend saw {concurrent}), {count * each * 2 / 1e6:F0} MB in {seconds:F1} s ({count * each * 2 / seconds / 1e6:F0} MB/s)"));
        }

        bool passed = failures.IsEmpty;
        ReliabilityResults.Append(
            Section, "concurrent-1000x1mib", $"{count} concurrent connections × {each >> 10} KiB each way, PROXY v1 then v2, every SHA-256 equal",
            null, 2 * count, verified, 0, lost, corrupted, 0,
            string.Join("; ", details) + (passed ? "" : "; first failure: " + failures.First()),
            Command(nameof(IntegrityTests), nameof(Concurrent_ManyConnectionsEachWay_EveryHashEqual)), passed);
        Assert.True(passed, $"{failures.Count} failure(s): {string.Join("\n", failures.Take(10))}");
    }

    internal static ProxyProtocolVersion Version(string version) => version == "v1" ? ProxyProtocolVersion.V1 : ProxyProtocolVersion.V2;

    internal static string Command(string type, string method) =>
        $"PROXYKESTREL_RELIABILITY={ReliabilityScale.Name} dotnet test tests/ProxyKestrel.Gateway.Tests -c Release --filter \"FullyQualifiedName~Reliability.{type}.{method}\"";
}
