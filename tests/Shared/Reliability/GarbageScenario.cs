using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Text.Json;

using ProxyKestrel.ProxyProtocol;

namespace ProxyKestrel.Testing;

/// <summary>One server (with what it depends on) for one phase of a <see cref="GarbageScenario"/>.</summary>
/// <param name="port">The port that expects a PROXY header.</param>
/// <param name="output">The server's output (for failure reports).</param>
/// <param name="exited">Whether the server process has exited.</param>
/// <param name="owned">Disposed in this order when the phase ends.</param>
internal sealed class GarbageServer(int port, Func<string> output, Func<bool> exited, params IAsyncDisposable[] owned) : IAsyncDisposable
{
    public int Port => port;

    public string Output => output();

    public bool Exited => exited();

    public async ValueTask DisposeAsync()
    {
        foreach (IAsyncDisposable d in owned)
        {
            await d.DisposeAsync();
        }
    }
}

/// <summary>What a <see cref="GarbageScenario"/> run saw.</summary>
internal sealed record GarbageOutcome(long Tried, long Lost, long Spoofed, bool Passed, string Details, IReadOnlyCollection<string> Failures);

/// <summary>
/// The garbage scenario shared by the middleware and gateway tests: connections with seeded hostile prefixes from
/// trusted sources (127.0.0.2, 127.0.0.8/29) and valid-looking headers from untrusted ones (127.0.0.3–7), once against a
/// server with <c>UntrustedPeers=Reject</c> and once with <c>Passthrough</c>. Each connection's outcome is compared with
/// the codec's own verdict on the same bytes.
/// </summary>
/// <param name="request">The payload sent after each prefix.</param>
/// <param name="report">The status (200 when answered) and reported client address of the bytes received.</param>
/// <param name="passthroughMustAnswerClaims">
/// Whether, with <c>Passthrough</c>, an untrusted connection sending a header must be answered too (else only the
/// plain ones must be).
/// </param>
internal sealed class GarbageScenario(byte[] request, Func<byte[], (int Status, IPAddress? Client)> report, bool passthroughMustAnswerClaims)
{
    public const int Concurrency = 64;

    public static readonly IPAddress[] TrustedSources =
        [IPAddress.Parse("127.0.0.2"), .. Enumerable.Range(8, 8).Select(i => IPAddress.Parse($"127.0.0.{i}"))];

    public static readonly IPAddress[] UntrustedSources = [.. Enumerable.Range(3, 5).Select(i => IPAddress.Parse($"127.0.0.{i}"))];

    private static readonly ProxyHeaderParserOptions ParserOptions = new() { MaxHeaderSize = 4096, AllowedVersions = ProxyProtocolVersions.All };

    private static readonly TimeSpan Deadline = TimeSpan.FromSeconds(15);

    /// <summary>The seed: PROXYKESTREL_GARBAGE_SEED, else a fixed one (printed either way).</summary>
    public static int Seed => int.TryParse(Environment.GetEnvironmentVariable("PROXYKESTREL_GARBAGE_SEED"), CultureInfo.InvariantCulture, out int s) ? s : 90_210;

    /// <summary>Runs both phases, each against a server started by <paramref name="start"/> for the mode.</summary>
    /// <param name="servers">How the details name the two servers ("WebApp", "gateway").</param>
    public async Task<GarbageOutcome> RunAsync(Action<string> output, string servers, Func<string, Task<GarbageServer>> start)
    {
        int total = ReliabilityScale.Pick(2_000, 100_000);
        TimeSpan budget = ReliabilityScale.Pick(TimeSpan.FromSeconds(30), TimeSpan.FromMinutes(8));
        int seed = Seed;
        output($"seed {seed} (PROXYKESTREL_GARBAGE_SEED), {total} connections, concurrency {Concurrency}");
        var tally = new GarbageTally();
        var clock = Stopwatch.StartNew();
        long tried = 0;
        var wellBehaved = new List<string>();
        string[] modes = ["Reject", "Passthrough"];
        for (int phase = 0; phase < modes.Length; phase++)
        {
            string mode = modes[phase];
            await using GarbageServer server = await start(mode);
            int port = server.Port;
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
                    catch (Exception e) when (e is InvalidOperationException or JsonException)
                    {
                        tally.Fail("error", $"{kind} {Convert.ToHexString(prefix)}: {e.Message}");
                    }
                }
            }));

            string? problem = server.Exited ? $"the {servers} exited" : await WellBehavedAsync(port);
            wellBehaved.Add(problem is null ? $"{mode}: ok" : $"{mode}: {problem}");
            if (problem is not null)
            {
                tally.Fail("fail:server-lost", $"{mode}: {problem}\n{server.Output}");
            }
        }

        clock.Stop();
        long spoofed = tally["fail:spoof"];
        long lost = tally["fail:hung"] + tally["fail:connect-failed"] + tally["fail:server-lost"];
        bool passed = tried == total && tally.Total("fail:") == 0 && tally["error"] == 0;
        string details =
            $"seed {seed}; {tried}/{total} connections in {clock.Elapsed.TotalSeconds:F1} s, concurrency {Concurrency}, two {servers} processes (UntrustedPeers=Reject, then Passthrough); " +
            $"outcomes: {tally.Summary("ok:")}; failures: [{tally.Summary("fail:")}]; slowest close of a rejected connection {tally.SlowestClose.TotalMilliseconds:F0} ms; " +
            $"well-behaved client after each phase: {string.Join(", ", wellBehaved)}; by kind: {tally.Summary("kind:")}";
        output(details);
        foreach (string failure in tally.Failures)
        {
            output(failure);
        }

        return new GarbageOutcome(tried, lost, spoofed, passed, details, tally.Failures);
    }

    private async Task TrustedAsync(int port, IPAddress source, string kind, byte[] prefix, GarbageTally tally)
    {
        GarbagePlan plan = GarbagePlan.For(prefix, request, source, ParserOptions);
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

        (int status, IPAddress? client) = report(received);
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

    private async Task UntrustedAsync(int port, IPAddress source, string kind, byte[] prefix, string mode, GarbageTally tally)
    {
        tally.Count($"kind:untrusted-{kind}");
        (GarbageEnd end, byte[] received, _) = await GarbageClient.RunAsync(source, port, [.. prefix, .. request], false, Deadline);
        string what = $"untrusted {kind} from {source} ({mode}): {Convert.ToHexString(prefix)}";
        if (end is GarbageEnd.Hung or GarbageEnd.ConnectFailed)
        {
            tally.Fail(end == GarbageEnd.Hung ? "fail:hung" : "fail:connect-failed", what);
            return;
        }

        (int status, IPAddress? client) = report(received);
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

        if ((passthroughMustAnswerClaims || kind == "plain") && status != 200)
        {
            tally.Fail("fail:passthrough-not-answered", $"{what} ended {end}, status {status}");
            return;
        }

        tally.Count(status == 200 ? "ok:passthrough-answered-as-peer" : "ok:passthrough-header-refused-as-http");
    }

    /// <summary>A valid v1 header from a trusted source, then the request: null when answered with the header's address.</summary>
    private async Task<string?> WellBehavedAsync(int port)
    {
        byte[] header = "PROXY TCP4 198.51.100.23 203.0.113.9 41000 443\r\n"u8.ToArray();
        (GarbageEnd end, byte[] received, _) = await GarbageClient.RunAsync(TrustedSources[0], port, [.. header, .. request], false, Deadline);
        (int status, IPAddress? client) = report(received);
        return status == 200 && IPAddress.Parse("198.51.100.23").Equals(client) ? null : $"ended {end}, status {status}, client {client}";
    }
}
