using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Text;
using System.Text.Json.Nodes;
using ProxyKestrel.Gateway.Tests.Infrastructure;
using ProxyKestrel.Gateway.Tests.Observability;
using Xunit.Abstractions;

namespace ProxyKestrel.Gateway.Tests.Reliability;

/// <summary>
/// Garbage against a gateway TCP route with <c>AcceptProxyProtocol</c> (samples/Gateway as a child process, in front of a
/// backend that reports the client address from the gateway's own v2 header): connections with seeded hostile prefixes from
/// trusted sources (127.0.0.2, 127.0.0.8/29) and valid-looking headers from untrusted ones (127.0.0.3–7), once with
/// <c>UntrustedPeers=Reject</c> and once with <c>Passthrough</c>. Each connection's outcome is compared with the codec's
/// own verdict on the same bytes: invalid or incomplete (then half-closed) → closed with nothing written; complete →
/// relayed with the header's source address; untrusted → closed (Reject) or answered as the real peer (Passthrough).
/// </summary>
[Trait("Category", "Reliability")]
[Collection(TimingSensitive.Name)]
public class GarbageTests(ITestOutputHelper output)
{
    private const string Command =
        "PROXYKESTREL_RELIABILITY=full dotnet test tests/ProxyKestrel.Gateway.Tests -c Release --filter \"Category=Reliability&FullyQualifiedName~GarbageTests\"";

    private const int Concurrency = 64;

    private static readonly byte[] Request = Encoding.ASCII.GetBytes("hello\n");

    private static readonly IPAddress[] TrustedSources =
        [IPAddress.Parse("127.0.0.2"), .. Enumerable.Range(8, 8).Select(i => IPAddress.Parse($"127.0.0.{i}"))];

    private static readonly IPAddress[] UntrustedSources = [.. Enumerable.Range(3, 5).Select(i => IPAddress.Parse($"127.0.0.{i}"))];

    private static readonly ProxyHeaderParserOptions ParserOptions = new() { MaxHeaderSize = 4096, AllowedVersions = ProxyProtocolVersions.All };

    private static readonly TimeSpan Deadline = TimeSpan.FromSeconds(15);

    /// <summary>The seed: PROXYKESTREL_GARBAGE_SEED, else a fixed one (printed either way).</summary>
    internal static int Seed => int.TryParse(Environment.GetEnvironmentVariable("PROXYKESTREL_GARBAGE_SEED"), CultureInfo.InvariantCulture, out int s) ? s : 90_210;

    [Fact]
    public async Task Garbage_SeededHostilePrefixes_ClosedOrAnsweredPerCodecAndNeverSpoofed()
    {
        int total = ReliabilityScale.Pick(2_000, 100_000);
        TimeSpan budget = ReliabilityScale.Pick(TimeSpan.FromSeconds(30), TimeSpan.FromMinutes(8));
        int seed = Seed;
        output.WriteLine($"seed {seed} (PROXYKESTREL_GARBAGE_SEED), {total} connections, concurrency {Concurrency}");
        var tally = new GarbageTally();
        var clock = Stopwatch.StartNew();
        long tried = 0;
        var wellBehaved = new List<string>();
        string[] modes = ["Reject", "Passthrough"];
        for (int phase = 0; phase < modes.Length; phase++)
        {
            string mode = modes[phase];
            await using var backend = new ReportBackend();
            await using ObservedGateway gateway = await ObservedGateway.StartAsync(GatewayConfig(backend.Port, mode), "garbage");
            int port = gateway.RoutePorts["garbage"];
            var generator = new GarbageGenerator(seed + phase);
            int count = total / modes.Length;
            var plans = new (IPAddress Source, bool Trusted, string Kind, byte[] Prefix)[count];
            for (int i = 0; i < count; i++)
            {
                if (i % 5 == 4)
                {
                    IPAddress source = UntrustedSources[(i / 5) % UntrustedSources.Length];
                    plans[i] = i % 15 == 4 ? (source, false, "plain", []) : (source, false, "claim", generator.Claim());
                }
                else
                {
                    GarbageInput input = generator.Next();
                    plans[i] = (TrustedSources[i % TrustedSources.Length], true, input.Kind, input.Bytes);
                }
            }

            int next = -1;
            long phaseDeadline = clock.ElapsedMilliseconds + (long)(budget.TotalMilliseconds / modes.Length);
            await Task.WhenAll(Enumerable.Range(0, Concurrency).Select(async _ =>
            {
                int i;
                while ((i = Interlocked.Increment(ref next)) < count && clock.ElapsedMilliseconds < phaseDeadline)
                {
                    Interlocked.Increment(ref tried);
                    (IPAddress source, bool trusted, string kind, byte[] prefix) = plans[i];
                    try
                    {
                        if (trusted)
                        {
                            await TrustedAsync(port, source, kind, prefix, tally);
                        }
                        else
                        {
                            await UntrustedAsync(port, source, kind, prefix, mode, tally);
                        }
                    }
                    catch (InvalidOperationException e)
                    {
                        tally.Fail("error", $"{kind} {Convert.ToHexString(prefix)}: {e.Message}");
                    }
                }
            }));

            string? problem = gateway.Process.HasExited ? "the gateway exited" : await WellBehavedAsync(port);
            wellBehaved.Add(problem is null ? $"{mode}: ok" : $"{mode}: {problem}");
            if (problem is not null)
            {
                tally.Fail("fail:server-lost", $"{mode}: {problem}\n{gateway.Output}");
            }
        }

        clock.Stop();
        long spoofed = tally["fail:spoof"];
        long lost = tally["fail:hung"] + tally["fail:connect-failed"] + tally["fail:server-lost"];
        bool passed = tried == total && tally.Total("fail:") == 0 && tally["error"] == 0;
        string details =
            $"seed {seed}; {tried}/{total} connections in {clock.Elapsed.TotalSeconds:F1} s, concurrency {Concurrency}, two gateway processes (UntrustedPeers=Reject, then Passthrough); " +
            $"outcomes: {tally.Summary("ok:")}; failures: [{tally.Summary("fail:")}]; slowest close of a rejected connection {tally.SlowestClose.TotalMilliseconds:F0} ms; " +
            $"well-behaved client after each phase: {string.Join(", ", wellBehaved)}; by kind: {tally.Summary("kind:")}";
        output.WriteLine(details);
        foreach (string failure in tally.Failures)
        {
            output.WriteLine(failure);
        }

        ReliabilityResults.Append("hostile", "garbage-gateway",
            "Garbage prefixes (random, truncated, mutated, oversized, lying TLVs, bad CRC32C, bad v1) against a gateway TCP route with AcceptProxyProtocol (samples/Gateway)",
            tried, tried, null, null, lost, 0, spoofed, details, Command, passed);

        Assert.True(passed, details + "\n" + string.Join("\n", tally.Failures));
    }

    private static async Task TrustedAsync(int port, IPAddress source, string kind, byte[] prefix, GarbageTally tally)
    {
        GarbagePlan plan = GarbagePlan.For(prefix, Request, source, ParserOptions);
        tally.Count($"kind:{kind}/{plan.PrefixStatus}");
        (GarbageEnd end, byte[] received, TimeSpan elapsed) = await GarbageClient.RunAsync(source, port, plan.Send, plan.HalfClose, Deadline);
        string what = $"{kind} {plan.PrefixStatus}/{plan.Error} from {source}: {Convert.ToHexString(prefix)}";
        if (end is GarbageEnd.Hung or GarbageEnd.ConnectFailed)
        {
            tally.Fail(end == GarbageEnd.Hung ? "fail:hung" : "fail:connect-failed", what);
            return;
        }

        if (!plan.ExpectAnswer)
        {
            if (end == GarbageEnd.ClosedEmpty)
            {
                tally.Count(plan.HalfClose ? "ok:rejected-incomplete" : "ok:rejected-invalid");
                tally.Closed(elapsed);
            }
            else
            {
                tally.Fail("fail:wrote-to-rejected", $"{what} got {received.Length} bytes");
            }

            return;
        }

        (int status, IPAddress? client) = Report(received);
        if (status == 200 && client is not null && client.Equals(plan.ExpectedClient))
        {
            tally.Count("ok:answered");
        }
        else if (status == 200 && client is not null && !client.Equals(source))
        {
            tally.Fail("fail:wrong-address", $"{what} reported {client}, header says {plan.ExpectedClient}");
        }
        else
        {
            tally.Fail("fail:valid-not-answered", $"{what} ended {end}, status {status}, client {client}");
        }
    }

    private static async Task UntrustedAsync(int port, IPAddress source, string kind, byte[] prefix, string mode, GarbageTally tally)
    {
        tally.Count($"kind:untrusted-{kind}");
        (GarbageEnd end, byte[] received, _) = await GarbageClient.RunAsync(source, port, [.. prefix, .. Request], false, Deadline);
        string what = $"untrusted {kind} from {source} ({mode}): {Convert.ToHexString(prefix)}";
        if (end is GarbageEnd.Hung or GarbageEnd.ConnectFailed)
        {
            tally.Fail(end == GarbageEnd.Hung ? "fail:hung" : "fail:connect-failed", what);
            return;
        }

        (int status, IPAddress? client) = Report(received);
        if (status == 200 && !source.Equals(client))
        {
            tally.Fail("fail:spoof", $"{what} reported {client}");
            return;
        }

        if (mode == "Reject")
        {
            if (end == GarbageEnd.ClosedEmpty)
            {
                tally.Count("ok:untrusted-rejected");
            }
            else
            {
                tally.Fail("fail:wrote-to-rejected", $"{what} got {received.Length} bytes");
            }

            return;
        }

        if (status != 200)
        {
            tally.Fail("fail:passthrough-not-answered", $"{what} ended {end}, status {status}");
            return;
        }

        tally.Count(status == 200 ? "ok:passthrough-answered-as-peer" : "ok:passthrough-header-refused-as-http");
    }

    /// <summary>200 and the address when the backend reported one (<c>SRC address\n</c>), else 0.</summary>
    private static (int Status, IPAddress? Client) Report(byte[] received)
    {
        string text = Encoding.ASCII.GetString(received);
        if (!text.StartsWith("SRC ", StringComparison.Ordinal) || !text.EndsWith('\n'))
        {
            return (0, null);
        }

        return IPAddress.TryParse(text.AsSpan(4, text.Length - 5), out IPAddress? address) ? (200, address) : (200, null);
    }

    private static JsonObject GatewayConfig(int backendPort, string mode)
    {
        var routes = new JsonObject
        {
            ["garbage"] = new JsonObject
            {
                ["Listen"] = "127.0.0.1:0",
                ["ClusterId"] = "backend",
                ["AcceptProxyProtocol"] = new JsonObject
                {
                    ["TrustedNetworks"] = new JsonArray("127.0.0.2/32", "127.0.0.8/29"),
                    ["UntrustedPeers"] = mode,
                    ["MaxHeaderSize"] = 4096,
                    ["HeaderTimeout"] = "00:00:05",
                },
            },
        };
        JsonObject config = ObservedGateway.Config(backendPort, routes);
        config["ReverseProxy"]!["Clusters"]!["backend"]!["Metadata"] = new JsonObject { ["ProxyProtocol"] = "v2" };
        return config;
    }

    /// <summary>A valid v1 header from a trusted source, then a request: null when answered with the header's address.</summary>
    private static async Task<string?> WellBehavedAsync(int port)
    {
        byte[] header = Encoding.ASCII.GetBytes("PROXY TCP4 198.51.100.23 203.0.113.9 41000 443\r\n");
        (GarbageEnd end, byte[] received, _) = await GarbageClient.RunAsync(TrustedSources[0], port, [.. header, .. Request], false, Deadline);
        (int status, IPAddress? client) = Report(received);
        return status == 200 && IPAddress.Parse("198.51.100.23").Equals(client) ? null : $"ended {end}, status {status}, client {client}";
    }
}
