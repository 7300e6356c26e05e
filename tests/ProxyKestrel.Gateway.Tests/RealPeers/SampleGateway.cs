using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using ProxyKestrel.Gateway.Tests.Infrastructure.Transports;

namespace ProxyKestrel.Gateway.Tests.RealPeers;

/// <summary>
/// The real samples/Gateway process (<c>dotnet Gateway.dll --urls http://127.0.0.1:0 --config FILE</c>, working
/// directory = its output folder so its appsettings.json seed is loaded). The extra JSON overrides the seed: the
/// route "smtp" listens on 127.0.0.1:<see cref="Port"/> and the cluster "postfix" points at the test's backend. It runs
/// on the test's transport (<see cref="AmbientTransport"/>).
/// </summary>
internal sealed class SampleGateway : IAsyncDisposable
{
    private SampleGateway(RealPeerProcess process, int port)
    {
        Process = process;
        Port = port;
    }

    /// <summary>The gateway process.</summary>
    public RealPeerProcess Process { get; }

    /// <summary>The port the "smtp" route listens on (127.0.0.1).</summary>
    public int Port { get; }

    /// <summary>What the gateway logged so far.</summary>
    public string Output => Process.Output;

    /// <summary>
    /// Starts the sample with the route "smtp" on a free port relaying to 127.0.0.1:<paramref name="backendPort"/>;
    /// <paramref name="proxyProtocol"/> is the cluster's "ProxyProtocol" metadata ("v1", "v2", or "" for none);
    /// <paramref name="acceptProxyProtocol"/> is the route's AcceptProxyProtocol section, if any.
    /// </summary>
    public static async Task<SampleGateway> StartAsync(int backendPort, string proxyProtocol, JsonObject? acceptProxyProtocol = null)
    {
        string folder = RepoPaths.SampleOutput("Gateway");
        string dll = Path.Combine(folder, "Gateway.dll");
        if (!File.Exists(dll))
        {
            throw new InvalidOperationException($"{dll} not found: build ProxyKestrel.sln -c {RepoPaths.Configuration} first.");
        }

        string dotnet = Environment.GetEnvironmentVariable("DOTNET_HOST_PATH") is { Length: > 0 } host && File.Exists(host)
            ? host
            : RealPeerProcess.FindExecutable("dotnet", "dotnet-sdk-10.0");
        int port = FreePort.Next();
        var route = new JsonObject
        {
            ["Listen"] = $"127.0.0.1:{port}",
            ["ClusterId"] = "postfix",
        };
        if (acceptProxyProtocol is not null)
        {
            route["AcceptProxyProtocol"] = acceptProxyProtocol;
        }

        var json = new JsonObject
        {
            ["ReverseProxy"] = new JsonObject
            {
                ["Clusters"] = new JsonObject
                {
                    ["postfix"] = new JsonObject
                    {
                        ["Metadata"] = new JsonObject { ["ProxyProtocol"] = proxyProtocol },
                        ["Destinations"] = new JsonObject
                        {
                            ["local"] = new JsonObject { ["Address"] = $"tcp://127.0.0.1:{backendPort}" },
                        },
                    },
                },
            },
            ["TcpProxy"] = new JsonObject { ["Routes"] = new JsonObject { ["smtp"] = route } },
        };
        string directory = TempDirectory.Create("gw-sample");
        string config = Path.Combine(directory, "gateway.json");
        string text = json.ToJsonString(new System.Text.Json.JsonSerializerOptions { WriteIndented = true });
        await File.WriteAllTextAsync(config, text);
        // No port probe before the log line: a probe connection would be relayed to the backend (and logged there).
        var process = await RealPeerProcess.StartAsync(
            dotnet,
            [dll, "--urls", "http://127.0.0.1:0", "--Admin:Urls", "http://127.0.0.1:0", "--config", config],
            directory,
            text,
            [],
            folder,
            AmbientTransport.ChildEnvironment());
        try
        {
            // The seed's log line (event id 100) names the overridden endpoint: the override was applied.
            await process.Process.WaitForLineAsync(
                new Regex($@"TCP route smtp listening on 127\.0\.0\.1:{port}\b"), TimeSpan.FromSeconds(30));

            // It runs on the test's transport: event 111 (logged before the routes) names the one it really runs.
            if (AmbientTransport.Current is { } transport)
            {
                await process.Process.WaitForLineAsync(new Regex($@"TCP routes use the {transport} transport\b"), TimeSpan.FromSeconds(5));
            }
        }
        catch (Exception e) when (e is TimeoutException or InvalidOperationException)
        {
            string output = process.Output;
            await process.DisposeAsync();
            throw new InvalidOperationException($"gateway did not log its route: {e.Message}\n--- output ---\n{output}\n--- config ---\n{text}", e);
        }

        return new SampleGateway(process, port);
    }

    public ValueTask DisposeAsync() => Process.DisposeAsync();
}
