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

    private static readonly byte[] Request = Encoding.ASCII.GetBytes("hello\n");

    [Fact]
    public async Task Garbage_SeededHostilePrefixes_ClosedOrAnsweredPerCodecAndNeverSpoofed()
    {
        var scenario = new GarbageScenario(Request, Report, passthroughMustAnswerClaims: true);
        GarbageOutcome run = await scenario.RunAsync(output.WriteLine, "gateway", async mode =>
        {
            var backend = new ReportBackend();
            try
            {
                ObservedGateway gateway = await ObservedGateway.StartAsync(GatewayConfig(backend.Port, mode), "garbage");
                return new GarbageServer(gateway.RoutePorts["garbage"], () => gateway.Output, () => gateway.Process.HasExited, gateway, backend);
            }
            catch
            {
                await backend.DisposeAsync();
                throw;
            }
        });

        ReliabilityResults.Append("hostile", "garbage-gateway",
            "Garbage prefixes (random, truncated, mutated, oversized, lying TLVs, bad CRC32C, bad v1) against a gateway TCP route with AcceptProxyProtocol (samples/Gateway)",
            run.Tried, run.Tried, null, null, run.Lost, 0, run.Spoofed, run.Details, Command, run.Passed);

        Assert.True(run.Passed, run.Details + "\n" + string.Join("\n", run.Failures));
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
}
