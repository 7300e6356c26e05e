using System.Net;
using System.Text.Json.Nodes;
using ProxyKestrel.Gateway.Tests.Infrastructure;
using ProxyKestrel.Gateway.Tests.Observability;
using Xunit.Abstractions;

namespace ProxyKestrel.Gateway.Tests.Reliability;

/// <summary>
/// Oversized claims against a gateway TCP route with <c>AcceptProxyProtocol</c> (samples/Gateway as a child process):
/// a v2 header announcing 65,535 bytes with <c>MaxHeaderSize</c> 4096 is refused after exactly 16 bytes, at once (long
/// before the header timeout), also while the rest trickles in, and the backend is never contacted.
/// </summary>
[Trait("Category", "Reliability")]
[Collection(TimingSensitive.Name)]
public class OversizedClaimTests(ITestOutputHelper output)
{
    private const string Command =
        "PROXYKESTREL_RELIABILITY=full dotnet test tests/ProxyKestrel.Gateway.Tests -c Release --filter \"Category=Reliability&FullyQualifiedName~OversizedClaimTests\"";

    private static readonly TimeSpan HeaderTimeout = TimeSpan.FromSeconds(5);

    [Fact]
    public async Task Connect_V2Claim65535_ClosedAfter16BytesWithoutWaitingAndBackendNeverContacted()
    {
        await using var backend = new ReportBackend();
        var routes = new JsonObject
        {
            ["claims"] = new JsonObject
            {
                ["Listen"] = "127.0.0.1:0",
                ["ClusterId"] = "backend",
                ["AcceptProxyProtocol"] = new JsonObject
                {
                    ["TrustedNetworks"] = new JsonArray("127.0.0.2/32"),
                    ["MaxHeaderSize"] = 4096,
                    ["HeaderTimeout"] = "00:00:05",
                },
            },
        };
        JsonObject config = ObservedGateway.Config(backend.Port, routes);
        config["ReverseProxy"]!["Clusters"]!["backend"]!["Metadata"] = new JsonObject { ["ProxyProtocol"] = "v2" };
        await using ObservedGateway gateway = await ObservedGateway.StartAsync(config, "claims");

        OversizedClaimResult result = await OversizedClaimProbe.RunAsync(
            gateway.RoutePorts["claims"], IPAddress.Parse("127.0.0.2"), ReliabilityScale.Pick(20, 1_000), ReliabilityScale.Pick(3, 50), HeaderTimeout);
        long contacted = backend.Accepted;
        bool alive = !gateway.Process.HasExited;
        bool passed = result.Passed && contacted == 0 && alive;
        string details = $"{result.Details}; backend contacted {contacted} times; gateway alive after: {alive}";
        output.WriteLine(details);
        ReliabilityResults.Append("hostile", "oversized-claim-gateway",
            "v2 header claiming 65,535 bytes with MaxHeaderSize 4096 against a gateway route with AcceptProxyProtocol (samples/Gateway): refused from its first 16 bytes",
            result.Connections, result.Connections, null, null, result.Lost + (alive ? 0 : 1), 0, null, details, Command, passed);
        Assert.True(passed, details);
    }
}
