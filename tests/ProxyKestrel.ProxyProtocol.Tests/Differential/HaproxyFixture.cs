using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Text;

namespace ProxyKestrel.ProxyProtocol.Tests.Differential;

/// <summary>
/// Starts a real HAProxy (<c>haproxy -db -f cfg</c>) with one frontend bound with <c>accept-proxy</c> on a free
/// loopback port. The frontend answers every request itself with <c>src src_port dst dst_port</c> as decoded from the
/// PROXY header, so no backend is needed. HAProxy missing is a failure, never a skip.
/// </summary>
public sealed class HaproxyFixture : IAsyncLifetime, IDisposable
{
    private const int MaxCapturedChars = 64 * 1024;

    private readonly StringBuilder _output = new();
    private readonly Lock _outputLock = new();
    private Process? _process;
    private string? _directory;

    /// <summary>The loopback endpoint HAProxy listens on.</summary>
    public IPEndPoint EndPoint { get; private set; } = new(IPAddress.Loopback, 0);

    /// <summary>The <c>haproxy -v</c> first line, for reports.</summary>
    public string Version { get; private set; } = "";

    /// <summary>What HAProxy wrote on stdout/stderr so far (truncated), for diagnostics.</summary>
    public string CapturedOutput
    {
        get
        {
            lock (_outputLock)
            {
                return _output.ToString();
            }
        }
    }

    public async Task InitializeAsync()
    {
        string executable = FindHaproxy()
            ?? throw new InvalidOperationException(
                "haproxy not installed: run eng/install-peers.sh (looked on PATH and at /usr/sbin/haproxy; "
                + $"CI={Environment.GetEnvironmentVariable("CI") ?? "<unset>"}).");

        Version = await ReadVersionAsync(executable).ConfigureAwait(false);

        int port = GetFreeLoopbackPort();
        EndPoint = new IPEndPoint(IPAddress.Loopback, port);
        _directory = Directory.CreateTempSubdirectory("pk-haproxy-").FullName;
        string config = Path.Combine(_directory, "haproxy.cfg");
        await File.WriteAllTextAsync(config, BuildConfig(port)).ConfigureAwait(false);

        var start = new ProcessStartInfo(executable)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
            WorkingDirectory = _directory,
        };
        start.ArgumentList.Add("-db");
        start.ArgumentList.Add("-f");
        start.ArgumentList.Add(config);

        _process = new Process { StartInfo = start };
        _process.OutputDataReceived += (_, e) => Capture(e.Data);
        _process.ErrorDataReceived += (_, e) => Capture(e.Data);
        if (!_process.Start())
        {
            throw new InvalidOperationException($"could not start {executable}");
        }

        _process.BeginOutputReadLine();
        _process.BeginErrorReadLine();

        var deadline = Stopwatch.StartNew();
        while (true)
        {
            if (_process.HasExited)
            {
                throw new InvalidOperationException(
                    $"haproxy exited with code {_process.ExitCode} before listening on {EndPoint}. Output:\n{CapturedOutput}");
            }

            try
            {
                using var probe = new TcpClient();
                await probe.ConnectAsync(EndPoint.Address, EndPoint.Port).ConfigureAwait(false);

                // Close without sending anything: HAProxy just drops the empty connection.
                return;
            }
            catch (SocketException) when (deadline.Elapsed < TimeSpan.FromSeconds(10))
            {
                await Task.Delay(50).ConfigureAwait(false);
            }
            catch (SocketException ex)
            {
                throw new InvalidOperationException(
                    $"haproxy did not accept connections on {EndPoint} within 10 s ({ex.SocketErrorCode}). Output:\n{CapturedOutput}",
                    ex);
            }
        }
    }

    public Task DisposeAsync()
    {
        Dispose();
        return Task.CompletedTask;
    }

    /// <summary>Kills HAProxy (the whole process tree) and deletes the temporary directory. Idempotent.</summary>
    public void Dispose()
    {
        if (_process is not null)
        {
            try
            {
                if (!_process.HasExited)
                {
                    _process.Kill(entireProcessTree: true);
                    _process.WaitForExit(TimeSpan.FromSeconds(10));
                }
            }
            catch (InvalidOperationException)
            {
                // Already gone.
            }

            _process.Dispose();
            _process = null;
        }

        if (_directory is not null && Directory.Exists(_directory))
        {
            try
            {
                Directory.Delete(_directory, recursive: true);
            }
            catch (IOException)
            {
                // Best effort.
            }
        }
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

    private static string? FindHaproxy()
    {
        string? path = Environment.GetEnvironmentVariable("PATH");
        if (path is not null)
        {
            foreach (string dir in path.Split(Path.PathSeparator, StringSplitOptions.RemoveEmptyEntries))
            {
                string candidate = Path.Combine(dir, "haproxy");
                if (File.Exists(candidate))
                {
                    return candidate;
                }
            }
        }

        return File.Exists("/usr/sbin/haproxy") ? "/usr/sbin/haproxy" : null;
    }

    private static async Task<string> ReadVersionAsync(string executable)
    {
        var start = new ProcessStartInfo(executable, "-v")
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        using var process = Process.Start(start)
            ?? throw new InvalidOperationException($"could not start {executable} -v");
        string text = await process.StandardOutput.ReadToEndAsync().ConfigureAwait(false);
        await process.WaitForExitAsync().ConfigureAwait(false);
        return text.Split('\n', 2)[0].Trim();
    }

    private static int GetFreeLoopbackPort()
    {
        var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        try
        {
            return ((IPEndPoint)listener.LocalEndpoint).Port;
        }
        finally
        {
            listener.Stop();
        }
    }

    private void Capture(string? line)
    {
        if (line is null)
        {
            return;
        }

        lock (_outputLock)
        {
            if (_output.Length < MaxCapturedChars)
            {
                _output.AppendLine(line);
            }
        }
    }
}
