using System.Globalization;
using System.Net;
using System.Text;
using System.Text.Json;
using Xunit.Abstractions;

namespace ProxyKestrel.AspNetCore.Tests.Reliability;

/// <summary>The garbage and oversized-claim scenarios run alone (thousands of connections, timings).</summary>
[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class GarbageSerial
{
    public const string Name = "Serial (garbage, reliability)";
}

/// <summary>
/// Garbage against the middleware (samples/WebApp as a child process): connections with seeded hostile prefixes from
/// trusted sources (127.0.0.2, 127.0.0.8/29) and valid-looking headers from untrusted ones (127.0.0.3–7), once with
/// <c>UntrustedPeers=Reject</c> and once with <c>Passthrough</c>. Each connection's outcome is compared with the codec's
/// own verdict on the same bytes: invalid or incomplete (then half-closed) → closed with nothing written; complete →
/// answered with the header's source address; untrusted → closed (Reject) or answered as the real peer (Passthrough).
/// </summary>
[Trait("Category", "Reliability")]
[Collection(GarbageSerial.Name)]
public class GarbageTests(ITestOutputHelper output)
{
    private const string Command =
        "PROXYKESTREL_RELIABILITY=full dotnet test tests/ProxyKestrel.AspNetCore.Tests -c Release --filter \"Category=Reliability&FullyQualifiedName~GarbageTests\"";

    private static readonly byte[] Request = Encoding.ASCII.GetBytes("GET / HTTP/1.0\r\nHost: garbage\r\n\r\n");

    [Fact]
    public async Task Garbage_SeededHostilePrefixes_ClosedOrAnsweredPerCodecAndNeverSpoofed()
    {
        var scenario = new GarbageScenario(Request, Report, passthroughMustAnswerClaims: false);
        GarbageOutcome run = await scenario.RunAsync(output.WriteLine, "WebApp", async mode =>
        {
            WebAppProcess app = await WebAppProcess.StartAsync(
            [
                "--ProxyProtocol:TrustedNetworks:0=127.0.0.2/32",
                "--ProxyProtocol:TrustedNetworks:1=127.0.0.8/29",
                $"--ProxyProtocol:UntrustedPeers={mode}",
                "--ProxyProtocol:MaxHeaderSize=4096",
                "--ProxyProtocol:HeaderTimeout=00:00:05",
                "--Logging:LogLevel:ProxyKestrel=Error",
                "--Logging:LogLevel:Microsoft.AspNetCore=Error",
            ]);
            return new GarbageServer(app.Port, () => app.Output, () => false, app);
        });

        ReliabilityResults.Append("hostile", "garbage-webapp",
            "Garbage prefixes (random, truncated, mutated, oversized, lying TLVs, bad CRC32C, bad v1) against the middleware (samples/WebApp)",
            run.Tried, run.Tried, null, null, run.Lost, 0, run.Spoofed, run.Details, Command, run.Passed);

        Assert.True(run.Passed, run.Details + "\n" + string.Join("\n", run.Failures));
    }

    /// <summary>The HTTP status and, for a 200, the remoteIp the app reported.</summary>
    private static (int Status, IPAddress? Client) Report(byte[] received)
    {
        string text = Encoding.ASCII.GetString(received);
        if (text.Length < 12 || !text.StartsWith("HTTP/1.", StringComparison.Ordinal)
            || !int.TryParse(text.AsSpan(9, 3), NumberStyles.None, CultureInfo.InvariantCulture, out int status))
        {
            return (0, null);
        }

        int body = text.IndexOf("\r\n\r\n", StringComparison.Ordinal);
        if (status != 200 || body < 0)
        {
            return (status, null);
        }

        using JsonDocument json = JsonDocument.Parse(text[(body + 4)..]);
        return json.RootElement.TryGetProperty("remoteIp", out JsonElement ip) && ip.GetString() is { } s && IPAddress.TryParse(s, out IPAddress? address)
            ? (status, address)
            : (status, null);
    }
}
