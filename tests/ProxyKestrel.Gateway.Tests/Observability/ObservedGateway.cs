using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using ProxyKestrel.Gateway.Tests.Infrastructure.Transports;
using ProxyKestrel.Gateway.Tests.RealPeers;

namespace ProxyKestrel.Gateway.Tests.Observability;

/// <summary>
/// The samples/Gateway process with an admin listener on a free port (<c>--Admin:Urls http://127.0.0.1:0</c>) and the
/// given configuration file, on the test's transport (<see cref="AmbientTransport"/>); knows its admin port, its routes'
/// ports and its process id (for SIGTERM).
/// </summary>
internal sealed partial class ObservedGateway : IAsyncDisposable
{
    private readonly string _directory;

    private ObservedGateway(ChildProcess process, string directory, int adminPort, int processId, Dictionary<string, int> routePorts)
    {
        RoutePorts = routePorts;
        Process = process;
        _directory = directory;
        AdminPort = adminPort;
        ProcessId = processId;
    }

    public ChildProcess Process { get; }

    public int AdminPort { get; }

    /// <summary>The port each route listens on (routes listen on 127.0.0.1:0).</summary>
    public IReadOnlyDictionary<string, int> RoutePorts { get; }

    /// <summary>The id of the gateway's own process (dotnet Gateway.dll), not of a shell.</summary>
    public int ProcessId { get; }

    public string Output => Process.Output;

    /// <summary>Starts the gateway and waits until each of <paramref name="routeIds"/> logged its port.</summary>
    public static async Task<ObservedGateway> StartAsync(JsonObject config, params string[] routeIds)
    {
        string folder = RepoPaths.SampleOutput("Gateway");
        string dll = Path.Combine(folder, "Gateway.dll");
        string dotnet = Environment.GetEnvironmentVariable("DOTNET_HOST_PATH") is { Length: > 0 } host && File.Exists(host)
            ? host
            : RealPeerProcess.FindExecutable("dotnet", "dotnet-sdk-10.0");
        string directory = TempDirectory.Create("gw-observed");
        string path = Path.Combine(directory, "gateway.json");
        string text = config.ToJsonString(new System.Text.Json.JsonSerializerOptions { WriteIndented = true });
        await File.WriteAllTextAsync(path, text);
        ChildProcess process = ChildProcess.Start(
            dotnet,
            [dll, "--urls", "http://127.0.0.1:0", "--Admin:Urls", "http://127.0.0.1:0", "--config", path],
            folder,
            [new("Logging__Console__FormatterName", "simple"), .. AmbientTransport.ChildEnvironment()],
            name: "Gateway");
        try
        {
            Match admin = await process.WaitForLineAsync(AdminRegex(), TimeSpan.FromSeconds(30));
            var ports = new Dictionary<string, int>();
            foreach (string routeId in routeIds)
            {
                Match route = await process.WaitForLineAsync(
                    new Regex($@"TCP route {Regex.Escape(routeId)} listening on 127\.0\.0\.1:(\d+)"), TimeSpan.FromSeconds(30));
                ports[routeId] = int.Parse(route.Groups[1].Value, CultureInfo.InvariantCulture);
            }

            // It runs on the test's transport: event 111 (logged before the routes) names the one it really runs.
            if (AmbientTransport.Current is { } transport)
            {
                await process.WaitForLineAsync(new Regex($@"TCP routes use the {transport} transport\b"), TimeSpan.FromSeconds(5));
            }

            int pid = FindProcessId(path);
            return new ObservedGateway(process, directory, int.Parse(admin.Groups[1].Value, CultureInfo.InvariantCulture), pid, ports);
        }
        catch
        {
            await process.DisposeAsync();
            TempDirectory.TryDelete(directory);
            throw;
        }
    }

    /// <summary>A route of the cluster "backend" listening on 127.0.0.1:0.</summary>
    public static JsonObject Route() => new() { ["Listen"] = "127.0.0.1:0", ["ClusterId"] = "backend" };

    /// <summary>A cluster "backend" (no PROXY header) with one destination.</summary>
    public static JsonObject Config(int backendPort, JsonObject routes, string? drainTimeout = null)
    {
        // The seed appsettings.json has the route "smtp" on 0.0.0.0:2525: move it to a free port too.
        routes["smtp"] ??= Route();
        var tcpProxy = new JsonObject { ["Routes"] = routes };
        if (drainTimeout is not null)
        {
            tcpProxy["DrainTimeout"] = drainTimeout;
        }

        return new JsonObject
        {
            ["ReverseProxy"] = new JsonObject
            {
                ["Clusters"] = new JsonObject
                {
                    ["backend"] = new JsonObject
                    {
                        ["Destinations"] = new JsonObject
                        {
                            ["one"] = new JsonObject { ["Address"] = $"tcp://127.0.0.1:{backendPort}" },
                        },
                    },
                },
            },
            ["TcpProxy"] = tcpProxy,
        };
    }

    /// <summary>GET on the admin port: status code and body.</summary>
    public async Task<(HttpStatusCode Status, string Body)> GetAdminAsync(string path)
    {
        using var client = new HttpClient { Timeout = TimeSpan.FromSeconds(5) };
        using HttpResponseMessage response = await client.GetAsync(new Uri($"http://127.0.0.1:{AdminPort}{path}"));
        return (response.StatusCode, await response.Content.ReadAsStringAsync());
    }

    /// <summary>Sends SIGTERM to the gateway process.</summary>
    public async Task SendSigtermAsync()
    {
        (string stdout, string stderr) = await ChildProcess.RunAsync("kill", "-TERM", ProcessId.ToString(CultureInfo.InvariantCulture));
        Assert.True(stdout.Length == 0 && stderr.Length == 0, stdout + stderr);
    }

    /// <summary>Scrapes /metrics until <paramref name="ready"/> holds for the text (10 s at most); returns the last scrape.</summary>
    public async Task<string> ScrapeUntilAsync(Func<string, bool> ready)
    {
        string text = string.Empty;
        var deadline = System.Diagnostics.Stopwatch.StartNew();
        while (deadline.Elapsed < TimeSpan.FromSeconds(10))
        {
            (HttpStatusCode status, text) = await GetAdminAsync("/metrics");
            Assert.Equal(HttpStatusCode.OK, status);
            if (ready(text))
            {
                return text;
            }

            await Task.Delay(200);
        }

        return text;
    }

    public async ValueTask DisposeAsync()
    {
        await Process.DisposeAsync();
        TempDirectory.TryDelete(_directory);
    }

    private static int FindProcessId(string configPath)
    {
        foreach (string dir in Directory.EnumerateDirectories("/proc"))
        {
            if (!int.TryParse(Path.GetFileName(dir), out int pid))
            {
                continue;
            }

            try
            {
                string cmdline = File.ReadAllText(Path.Combine(dir, "cmdline"));
                if (cmdline.Contains("Gateway.dll", StringComparison.Ordinal) && cmdline.Contains(configPath, StringComparison.Ordinal))
                {
                    return pid;
                }
            }
            catch (IOException)
            {
                // Gone meanwhile.
            }
            catch (UnauthorizedAccessException)
            {
                // Not ours.
            }
        }

        throw new InvalidOperationException($"the gateway process (config {configPath}) was not found in /proc");
    }

    [GeneratedRegex(@"Admin endpoint \(/healthz, /readyz, /metrics\) listening on: http://127\.0\.0\.1:(\d+)")]
    private static partial Regex AdminRegex();
}

/// <summary>A TCP echo server on 127.0.0.1.</summary>
internal sealed class EchoBackend : IAsyncDisposable
{
    private readonly TcpListener _listener = new(IPAddress.Loopback, 0);
    private readonly CancellationTokenSource _stop = new();
    private readonly Task _loop;

    public EchoBackend()
    {
        _listener.Start();
        _loop = AcceptAsync();
    }

    public int Port => ((IPEndPoint)_listener.LocalEndpoint).Port;

    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync();
        _listener.Stop();
        try
        {
            await _loop;
        }
        catch (Exception)
        {
            // Stopped.
        }

        _stop.Dispose();
    }

    private async Task AcceptAsync()
    {
        while (!_stop.IsCancellationRequested)
        {
            Socket socket = await _listener.AcceptSocketAsync(_stop.Token);
            _ = EchoAsync(socket);
        }
    }

    private async Task EchoAsync(Socket socket)
    {
        using (socket)
        {
            byte[] buffer = new byte[4096];
            try
            {
                int read;
                while ((read = await socket.ReceiveAsync(buffer, SocketFlags.None, _stop.Token)) > 0)
                {
                    await socket.SendAsync(buffer.AsMemory(0, read), SocketFlags.None, _stop.Token);
                }

                socket.Shutdown(SocketShutdown.Send);
            }
            catch (Exception e) when (e is SocketException or OperationCanceledException or ObjectDisposedException)
            {
                // The peer went away or the backend stops.
            }
        }
    }
}

/// <summary>Small socket helpers.</summary>
internal static class Tcp
{
    public static async Task<Socket> ConnectAsync(int port)
    {
        var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        try
        {
            await socket.ConnectAsync(new IPEndPoint(IPAddress.Loopback, port));
            return socket;
        }
        catch
        {
            socket.Dispose();
            throw;
        }
    }

    /// <summary>Sends <paramref name="text"/> and reads it back (5 s at most).</summary>
    public static async Task<string> EchoAsync(Socket socket, string text)
    {
        byte[] bytes = System.Text.Encoding.ASCII.GetBytes(text);
        await socket.SendAsync(bytes, SocketFlags.None);
        byte[] buffer = new byte[bytes.Length];
        int total = 0;
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(5));
        while (total < buffer.Length)
        {
            int read = await socket.ReceiveAsync(buffer.AsMemory(total), SocketFlags.None, timeout.Token);
            if (read == 0)
            {
                break;
            }

            total += read;
        }

        return System.Text.Encoding.ASCII.GetString(buffer, 0, total);
    }

    /// <summary>Reads until the peer closes (or resets) the connection; false after <paramref name="timeout"/>.</summary>
    public static async Task<bool> ClosedByPeerAsync(Socket socket, TimeSpan timeout)
    {
        byte[] buffer = new byte[256];
        using var cts = new CancellationTokenSource(timeout);
        try
        {
            while (await socket.ReceiveAsync(buffer, SocketFlags.None, cts.Token) > 0)
            {
            }

            return true;
        }
        catch (SocketException)
        {
            return true;
        }
        catch (OperationCanceledException)
        {
            return false;
        }
    }
}
