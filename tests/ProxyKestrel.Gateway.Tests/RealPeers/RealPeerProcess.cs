namespace ProxyKestrel.Gateway.Tests.RealPeers;

/// <summary>
/// A real peer (HAProxy, nginx, the sample gateway, ...) run in the foreground as a child process with its own
/// temporary directory; dispose kills the process tree and deletes the directory. A missing binary is a failure
/// naming the Debian package, never a skip.
/// </summary>
internal sealed class RealPeerProcess : IAsyncDisposable
{
    private const int MaxCapturedChars = 256 * 1024;

    private RealPeerProcess(ChildProcess process, string directory, string? config)
    {
        Process = process;
        Directory = directory;
        Config = config;
    }

    /// <summary>The process.</summary>
    public ChildProcess Process { get; }

    /// <summary>The peer's temporary directory.</summary>
    public string Directory { get; }

    /// <summary>The configuration text (for failure messages).</summary>
    public string? Config { get; }

    /// <summary>What the peer wrote on stdout/stderr so far.</summary>
    public string Output => Process.Output;

    /// <summary>The full path of <paramref name="name"/>, or a failure naming the Debian <paramref name="package"/>.</summary>
    public static string FindExecutable(string name, string package) =>
        ChildProcess.FindExecutable(name) ?? throw new InvalidOperationException(
            $"{name} not installed (Debian package '{package}'): run `bash eng/install-peers.sh` (looked on PATH and in the sbin/bin folders).");

    /// <summary>
    /// Starts <paramref name="executable"/> in <paramref name="workingDirectory"/> (default <paramref name="directory"/>), with the extra
    /// <paramref name="environment"/> variables, and waits until every port in <paramref name="ports"/> accepts on 127.0.0.1.
    /// </summary>
    public static async Task<RealPeerProcess> StartAsync(
        string executable,
        IEnumerable<string> arguments,
        string directory,
        string? config,
        int[] ports,
        string? workingDirectory = null,
        IEnumerable<KeyValuePair<string, string>>? environment = null)
    {
        var peer = new RealPeerProcess(
            ChildProcess.Start(executable, arguments, workingDirectory ?? directory, environment, maxCapturedChars: MaxCapturedChars), directory, config);
        try
        {
            foreach (int port in ports)
            {
                await peer.Process.WaitForPortAsync(port);
            }
        }
        catch (InvalidOperationException e)
        {
            await peer.DisposeAsync();
            throw new InvalidOperationException($"{e.Message}\n--- config ---\n{config}", e);
        }

        return peer;
    }

    /// <summary>Starts HAProxy (<c>haproxy -db -f CFG</c>) with <paramref name="config"/>, waiting for <paramref name="ports"/>.</summary>
    public static async Task<RealPeerProcess> StartHaproxyAsync(string config, params int[] ports)
    {
        string executable = FindExecutable("haproxy", "haproxy");
        string directory = TempDirectory.Create("gw-haproxy");
        string path = Path.Combine(directory, "haproxy.cfg");
        await File.WriteAllTextAsync(path, config);
        return await StartAsync(executable, ["-db", "-f", path], directory, config, ports);
    }

    /// <summary>
    /// Starts HAProxy as a PROXY protocol receiver: an HTTP frontend on 127.0.0.1:<paramref name="port"/> with
    /// <c>accept-proxy</c> that answers "src src_port dst dst_port" as decoded from the header (HAProxy as an oracle).
    /// </summary>
    public static Task<RealPeerProcess> StartHaproxyReceiverAsync(int port) => StartHaproxyAsync(
        $"""
        global
          log stderr format raw local0 info

        defaults
          mode http
          log global
          timeout connect 5s
          timeout client 30s
          timeout server 30s

        frontend receiver
          bind 127.0.0.1:{port} accept-proxy
          http-request return status 200 content-type text/plain lf-string "%[src] %[src_port] %[dst] %[dst_port]"

        """,
        port);

    /// <summary>
    /// Starts nginx (<c>nginx -c CONF -p PREFIX -g 'daemon off;'</c>) as a PROXY protocol receiver on
    /// 127.0.0.1:<paramref name="port"/> answering "$proxy_protocol_addr $proxy_protocol_port ...".
    /// </summary>
    public static async Task<RealPeerProcess> StartNginxReceiverAsync(int port)
    {
        string executable = FindExecutable("nginx", "nginx");
        string directory = TempDirectory.Create("gw-nginx");
        string path = Path.Combine(directory, "nginx.conf");
        string config = $$"""
            worker_processes 1;
            pid {{directory}}/nginx.pid;
            error_log stderr info;

            events {
              worker_connections 64;
            }

            http {
              access_log off;
              client_body_temp_path {{directory}}/client_body;
              proxy_temp_path {{directory}}/proxy;
              fastcgi_temp_path {{directory}}/fastcgi;
              uwsgi_temp_path {{directory}}/uwsgi;
              scgi_temp_path {{directory}}/scgi;

              server {
                listen 127.0.0.1:{{port}} proxy_protocol;
                location / {
                  return 200 "$proxy_protocol_addr $proxy_protocol_port $proxy_protocol_server_addr $proxy_protocol_server_port\n";
                }
              }
            }

            """;
        await File.WriteAllTextAsync(path, config);
        return await StartAsync(executable, ["-c", path, "-p", directory, "-g", "daemon off;"], directory, config, [port]);
    }

    public async ValueTask DisposeAsync()
    {
        await Process.DisposeAsync();
        TempDirectory.TryDelete(Directory);
    }
}
