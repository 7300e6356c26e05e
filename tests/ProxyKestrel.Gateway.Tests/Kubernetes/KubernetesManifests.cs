using System.ComponentModel;
using System.Diagnostics;
using System.Text;
using Microsoft.Extensions.Configuration;
using ProxyKestrel.Gateway.Configuration;
using ProxyKestrel.Gateway.Health;
using Yarp.ReverseProxy.Configuration;

namespace ProxyKestrel.Gateway.Tests.Kubernetes;

/// <summary>
/// Runs eng/k8s/validate.mjs (kubectl kustomize + kubernetes-models) on an overlay of samples/Gateway/kubernetes, and
/// runs the gateway's own configuration validation on a gateway.json. Missing tools fail with what to install.
/// </summary>
internal static class KubernetesManifests
{
    public const string OverlaysPath = "samples/Gateway/kubernetes/overlays";

    public static string RepoRoot => RepoPaths.Root;

    public static string Overlay(string name) => Path.Combine(RepoRoot, OverlaysPath, name);

    /// <summary>The result of one run of validate.mjs.</summary>
    public sealed record ValidationRun(int ExitCode, string Output, IReadOnlyList<string> GatewayJsonFiles);

    /// <summary>Runs <c>node eng/k8s/validate.mjs OVERLAY OUTDIR</c> into a fresh directory.</summary>
    public static ValidationRun Validate(string overlayDirectory)
    {
        RequireTools();
        string outDir = Path.Combine(Path.GetTempPath(), "pk-k8s-" + Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(outDir);
        (int exit, string output) = Run(
            "node",
            [Path.Combine(RepoRoot, "eng", "k8s", "validate.mjs"), overlayDirectory, outDir],
            TimeSpan.FromMinutes(2));
        return new ValidationRun(exit, output, Directory.GetFiles(outDir, "*.gateway.json"));
    }

    /// <summary>
    /// Reads <paramref name="jsonFile"/> like the gateway does (TcpProxy section, ReverseProxy clusters with their
    /// PROXY protocol and TCP health check metadata) and returns every error.
    /// </summary>
    public static (TcpProxyConfig TcpProxy, IReadOnlyList<ClusterConfig> Clusters, List<string> Errors) ReadGatewayConfig(string jsonFile)
    {
        IConfigurationRoot configuration = new ConfigurationBuilder()
            .AddJsonFile(Path.GetFullPath(jsonFile), optional: false, reloadOnChange: false)
            .Build();
        var errors = new List<string>();
        TcpProxyConfig tcpProxy = TcpProxyConfigReader.Read(configuration.GetSection(TcpProxyConfig.SectionName), errors);

        var clusters = new List<ClusterConfig>();
        foreach (IConfigurationSection section in configuration.GetSection("ReverseProxy:Clusters").GetChildren())
        {
            var destinations = new Dictionary<string, DestinationConfig>(StringComparer.OrdinalIgnoreCase);
            foreach (IConfigurationSection destination in section.GetSection("Destinations").GetChildren())
            {
                string address = destination["Address"] ?? string.Empty;
                if (!Uri.TryCreate(address, UriKind.Absolute, out Uri? uri) || uri.Scheme != "tcp" || uri.Port <= 0)
                {
                    errors.Add($"{destination.Path}:Address: '{address}' is not tcp://HOST:PORT.");
                }

                destinations[destination.Key] = new DestinationConfig { Address = address };
            }

            if (destinations.Count == 0)
            {
                errors.Add($"{section.Path}:Destinations: none.");
            }

            clusters.Add(new ClusterConfig
            {
                ClusterId = section.Key,
                LoadBalancingPolicy = section["LoadBalancingPolicy"],
                Metadata = section.GetSection("Metadata").GetChildren().ToDictionary(m => m.Key, m => m.Value ?? string.Empty, StringComparer.OrdinalIgnoreCase),
                Destinations = destinations,
            });
        }

        TcpProxyConfigValidator.Validate(tcpProxy, id => clusters.Exists(c => string.Equals(c.ClusterId, id, StringComparison.OrdinalIgnoreCase)), errors);
        foreach (ClusterConfig cluster in clusters)
        {
            ClusterProxyProtocol.Read(cluster, errors);
            TcpHealthCheckOptions.Read(cluster, errors);
        }

        return (tcpProxy, clusters, errors);
    }

    private static void RequireTools()
    {
        Require("node", ["--version"], "Node.js (node) is required to validate the Kubernetes manifests; install nodejs (>= 20).");
        Require("kubectl", ["version", "--client"], "kubectl is required to render the kustomize overlays offline (kubectl kustomize); install the Kubernetes client.");
        string modules = Path.Combine(RepoRoot, "eng", "k8s", "node_modules");
        foreach (string package in new[] { "kubernetes-models", "yaml" })
        {
            Assert.True(
                Directory.Exists(Path.Combine(modules, package)),
                $"The npm package '{package}' is missing from {modules}; run: npm ci --prefix eng/k8s (eng/test.sh does this).");
        }
    }

    private static void Require(string tool, string[] args, string message)
    {
        try
        {
            (int exit, string output) = Run(tool, args, TimeSpan.FromSeconds(30));
            Assert.True(exit == 0, $"{message} '{tool} {string.Join(' ', args)}' exited with {exit}: {output}");
        }
        catch (Win32Exception e)
        {
            Assert.Fail($"{message} ({tool}: {e.Message})");
        }
    }

    private static (int ExitCode, string Output) Run(string fileName, IEnumerable<string> args, TimeSpan timeout)
    {
        var start = new ProcessStartInfo(fileName)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
            WorkingDirectory = RepoRoot,
        };
        foreach (string arg in args)
        {
            start.ArgumentList.Add(arg);
        }

        using Process process = Process.Start(start) ?? throw new InvalidOperationException($"{fileName} did not start.");
        var output = new StringBuilder();
        var gate = new object();
        process.OutputDataReceived += (_, e) => { if (e.Data is not null) { lock (gate) { output.AppendLine(e.Data); } } };
        process.ErrorDataReceived += (_, e) => { if (e.Data is not null) { lock (gate) { output.AppendLine(e.Data); } } };
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        if (!process.WaitForExit(timeout))
        {
            process.Kill(entireProcessTree: true);
            Assert.Fail($"{fileName} {string.Join(' ', start.ArgumentList)} did not finish within {timeout}: {output}");
        }

        process.WaitForExit();
        lock (gate)
        {
            return (process.ExitCode, output.ToString());
        }
    }
}
