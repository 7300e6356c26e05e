using System.Text.Json.Nodes;
using ProxyKestrel.Gateway.Configuration;
using ProxyKestrel.Gateway.Health;
using Yarp.ReverseProxy.Configuration;

namespace ProxyKestrel.Gateway.Tests.Kubernetes;

/// <summary>
/// samples/Gateway/kubernetes without a cluster: each overlay renders with kustomize and every object passes the
/// Kubernetes schemas (eng/k8s/validate.mjs), and the ConfigMap's gateway.json passes the gateway's own validation.
/// </summary>
public sealed class KubernetesManifestTests
{
    public static TheoryData<string> Overlays => new() { "aws", "azure", "plain" };

    [Theory]
    [MemberData(nameof(Overlays))]
    public void Overlay_RendersAndEveryObjectMatchesTheKubernetesSchemas(string overlay)
    {
        KubernetesManifests.ValidationRun run = KubernetesManifests.Validate(KubernetesManifests.Overlay(overlay));

        Assert.True(run.ExitCode == 0, $"validate.mjs {overlay} exited with {run.ExitCode}:\n{run.Output}");
        foreach (string kind in new[] { "ConfigMap", "Service", "Deployment", "HorizontalPodAutoscaler", "PodDisruptionBudget" })
        {
            Assert.Contains($"OK {kind}/", run.Output, StringComparison.Ordinal);
        }

        Assert.DoesNotContain("FAIL", run.Output, StringComparison.Ordinal);
        Assert.Single(run.GatewayJsonFiles);
    }

    [Theory]
    [MemberData(nameof(Overlays))]
    public void Overlay_GatewayJsonPassesTheGatewaysConfigurationValidation(string overlay)
    {
        KubernetesManifests.ValidationRun run = KubernetesManifests.Validate(KubernetesManifests.Overlay(overlay));
        Assert.True(run.ExitCode == 0, $"validate.mjs {overlay} exited with {run.ExitCode}:\n{run.Output}");
        string json = Assert.Single(run.GatewayJsonFiles);

        (TcpProxyConfig tcpProxy, IReadOnlyList<ClusterConfig> clusters, List<string> errors) = KubernetesManifests.ReadGatewayConfig(json);

        Assert.True(errors.Count == 0, $"{overlay}/gateway.json:\n{string.Join('\n', errors)}");
        TcpRouteConfig smtp = Assert.Single(tcpProxy.Routes);
        Assert.Equal(["0.0.0.0:2525"], smtp.Listen);
        Assert.NotNull(smtp.MaxConnections);

        // terminationGracePeriodSeconds (45) = preStop sleep (5) + DrainTimeout + margin (10).
        Assert.Equal(TimeSpan.FromSeconds(30), tcpProxy.DrainTimeout);

        ClusterConfig cluster = Assert.Single(clusters, c => c.ClusterId == smtp.ClusterId);
        ClusterProxyProtocol sent = ClusterProxyProtocol.Read(cluster, errors);
        Assert.True(TcpHealthCheckOptions.Read(cluster, errors).Enabled);
        Assert.Empty(errors);

        if (overlay == "plain")
        {
            // No load balancer header: the pod sees the client itself and tells Postfix in a v1 header.
            Assert.Null(smtp.AcceptProxyProtocol);
            Assert.Equal(ProxyProtocolVersion.V1, sent.Version);
        }
        else
        {
            // The cloud load balancer's v2 header is required from its network only, and its TLVs
            // (AWS 0xEA VPC endpoint id, Azure 0xEE LinkID) go on to Postfix.
            ProxyProtocolOptions accept = Assert.IsType<ProxyProtocolOptions>(smtp.AcceptProxyProtocol);
            Assert.Equal(ProxyProtocolMode.Required, accept.Mode);
            Assert.Equal(UntrustedPeerBehavior.Reject, accept.UntrustedPeers);
            Assert.Equal(ProxyProtocolVersions.V2, accept.AllowedVersions);
            Assert.NotEmpty(accept.TrustedNetworks);
            Assert.DoesNotContain(accept.TrustedNetworks, n => n.EndsWith("/0", StringComparison.Ordinal));
            Assert.Equal(ProxyProtocolVersion.V2, sent.Version);
            Assert.True(sent.Tlvs.HasFlag(ProxyProtocolTlvSelection.Passthrough));
        }
    }

    [Fact]
    public void BrokenGatewayJson_IsReportedByTheValidation()
    {
        string source = Path.Combine(KubernetesManifests.Overlay("aws"), "gateway.json");
        JsonNode root = JsonNode.Parse(File.ReadAllText(source))!;
        JsonNode route = root["TcpProxy"]!["Routes"]!["smtp"]!;
        route["ClusterId"] = "no-such-cluster";
        route["Listen"] = "0.0.0.0";
        route["AcceptProxyProtocol"]!["TrustedNetworks"] = new JsonArray("10.0.0.1/8");
        route["Typo"] = "x";
        root["TcpProxy"]!["DrainTimeout"] = "forever";
        JsonNode metadata = root["ReverseProxy"]!["Clusters"]!["postfix"]!["Metadata"]!;
        metadata["ProxyProtocol"] = "v1"; // TLVs need v2
        metadata["TcpHealthCheck.Rise"] = "often";

        string broken = Path.Combine(Path.GetTempPath(), $"pk-k8s-broken-{Guid.NewGuid():N}.json");
        File.WriteAllText(broken, root.ToJsonString());
        try
        {
            (_, _, List<string> errors) = KubernetesManifests.ReadGatewayConfig(broken);

            Assert.Contains(errors, e => e.Contains("ClusterId", StringComparison.Ordinal) && e.Contains("no-such-cluster", StringComparison.Ordinal));
            Assert.Contains(errors, e => e.Contains("Listen", StringComparison.Ordinal));
            Assert.Contains(errors, e => e.Contains("TrustedNetworks", StringComparison.Ordinal));
            Assert.Contains(errors, e => e.Contains("Typo", StringComparison.Ordinal));
            Assert.Contains(errors, e => e.Contains("DrainTimeout", StringComparison.Ordinal));
            Assert.Contains(errors, e => e.Contains("ProxyProtocol.Tlvs", StringComparison.Ordinal));
            Assert.Contains(errors, e => e.Contains("TcpHealthCheck.Rise", StringComparison.Ordinal));
        }
        finally
        {
            File.Delete(broken);
        }
    }

    [Fact]
    public void BrokenManifest_FailsTheSchemaValidation()
    {
        // A copy of the plain overlay whose Deployment has a string port and a writable root filesystem.
        string copy = Path.Combine(Path.GetTempPath(), $"pk-k8s-broken-{Guid.NewGuid():N}");
        string kubernetes = Path.Combine(KubernetesManifests.RepoRoot, "samples", "Gateway", "kubernetes");
        try
        {
            foreach (string file in Directory.GetFiles(kubernetes, "*", SearchOption.AllDirectories))
            {
                string target = Path.Combine(copy, Path.GetRelativePath(kubernetes, file));
                Directory.CreateDirectory(Path.GetDirectoryName(target)!);
                File.Copy(file, target);
            }

            string deployment = Path.Combine(copy, "base", "deployment.yaml");
            string text = File.ReadAllText(deployment);
            Assert.Contains("containerPort: 2525", text, StringComparison.Ordinal);
            Assert.Contains("readOnlyRootFilesystem: true", text, StringComparison.Ordinal);
            File.WriteAllText(deployment, text
                .Replace("containerPort: 2525", "containerPort: smtp", StringComparison.Ordinal)
                .Replace("readOnlyRootFilesystem: true", "readOnlyRootFilesystem: false", StringComparison.Ordinal));

            KubernetesManifests.ValidationRun run = KubernetesManifests.Validate(Path.Combine(copy, "overlays", "plain"));

            Assert.True(run.ExitCode == 1, $"expected exit 1:\n{run.Output}");
            Assert.Contains("FAIL Deployment/gateway: data/spec/template/spec/containers/0/ports/0/containerPort must be integer", run.Output, StringComparison.Ordinal);
            Assert.Contains("readOnlyRootFilesystem is not true", run.Output, StringComparison.Ordinal);
        }
        finally
        {
            if (Directory.Exists(copy))
            {
                Directory.Delete(copy, recursive: true);
            }
        }
    }
}
