using System.Net;

namespace ProxyKestrel.ProxyProtocol.Tests.Differential;

/// <summary>
/// Starts a real HAProxy (<c>haproxy -db -f cfg</c>) with one frontend bound with <c>accept-proxy</c> on a free
/// loopback port. The frontend answers every request itself with <c>src src_port dst dst_port</c> as decoded from the
/// PROXY header, so no backend is needed. HAProxy missing is a failure, never a skip.
/// </summary>
public sealed class HaproxyFixture : IAsyncLifetime, IDisposable
{
    private const int MaxCapturedChars = 64 * 1024;

    private ChildProcess? _process;
    private string? _directory;

    /// <summary>The loopback endpoint HAProxy listens on.</summary>
    public IPEndPoint EndPoint { get; private set; } = new(IPAddress.Loopback, 0);

    /// <summary>The <c>haproxy -v</c> first line, for reports.</summary>
    public string Version { get; private set; } = "";

    /// <summary>What HAProxy wrote on stdout/stderr so far (truncated), for diagnostics.</summary>
    public string CapturedOutput => _process?.Output ?? "";

    public async Task InitializeAsync()
    {
        string executable = ChildProcess.FindExecutable("haproxy")
            ?? throw new InvalidOperationException(
                "haproxy not installed: run eng/install-peers.sh (looked on PATH and in the sbin/bin folders; "
                + $"CI={Environment.GetEnvironmentVariable("CI") ?? "<unset>"}).");

        (string versionText, _) = await ChildProcess.RunAsync(executable, "-v").ConfigureAwait(false);
        Version = versionText.Split('\n', 2)[0].Trim();

        int port = FreePort.Next();
        EndPoint = new IPEndPoint(IPAddress.Loopback, port);
        _directory = TempDirectory.Create("haproxy");
        string config = Path.Combine(_directory, "haproxy.cfg");
        await File.WriteAllTextAsync(config, BuildConfig(port)).ConfigureAwait(false);

        _process = ChildProcess.Start(executable, ["-db", "-f", config], _directory, name: "haproxy", maxCapturedChars: MaxCapturedChars);
        await _process.WaitForPortAsync(port).ConfigureAwait(false);
    }

    public Task DisposeAsync()
    {
        Dispose();
        return Task.CompletedTask;
    }

    /// <summary>Kills HAProxy (the whole process tree) and deletes the temporary directory. Idempotent.</summary>
    public void Dispose()
    {
        _process?.Dispose();
        _process = null;
        TempDirectory.TryDelete(_directory);
    }

    internal static string BuildConfig(int port) => $"""
        global
          log stderr format raw local0 info

        defaults
          mode http
          log global
          timeout client 5s
          timeout connect 5s
          timeout server 5s

        frontend fe
          bind 127.0.0.1:{port} accept-proxy
          http-request return status 200 content-type text/plain lf-string "%[src] %[src_port] %[dst] %[dst_port]"

        """;
}
