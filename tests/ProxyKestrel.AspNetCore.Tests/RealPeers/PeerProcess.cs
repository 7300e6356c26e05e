using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Text;

namespace ProxyKestrel.AspNetCore.Tests.RealPeers;

/// <summary>
/// A real peer (HAProxy, nginx, ...) run in the foreground as a child process with its own temporary directory.
/// Start waits until the peer accepts connections on its port; dispose kills the process tree and deletes the
/// directory. A missing binary is a failure with a clear message, never a skip.
/// </summary>
public sealed class PeerProcess : IAsyncDisposable
{
    private const int MaxCapturedChars = 64 * 1024;

    private readonly StringBuilder _output = new();
    private readonly Lock _outputLock = new();
    private readonly Process _process;

    private PeerProcess(Process process, string name, string directory)
    {
        _process = process;
        Name = name;
        Directory = directory;
    }

    /// <summary>The peer's name, for messages.</summary>
    public string Name { get; }

    /// <summary>The peer's temporary directory (config files, pid, temp paths).</summary>
    public string Directory { get; }

    /// <summary>What the peer wrote on stdout/stderr so far (truncated), for failure messages.</summary>
    public string Output
    {
        get
        {
            lock (_outputLock)
            {
                return _output.ToString();
            }
        }
    }

    /// <summary>Creates a temporary directory for a peer (to write its configuration before starting it).</summary>
    public static string CreateDirectory(string name) => System.IO.Directory.CreateTempSubdirectory($"pk-{name}-").FullName;

    /// <summary>
    /// Starts <paramref name="executable"/> with <paramref name="arguments"/> in <paramref name="directory"/> and waits
    /// until 127.0.0.1:<paramref name="port"/> accepts a connection.
    /// </summary>
    public static async Task<PeerProcess> StartAsync(string executable, IEnumerable<string> arguments, string directory, int port)
    {
        var start = new ProcessStartInfo(executable)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
            WorkingDirectory = directory,
        };
        foreach (string argument in arguments)
        {
            start.ArgumentList.Add(argument);
        }

        var process = new Process { StartInfo = start };
        var peer = new PeerProcess(process, Path.GetFileName(executable), directory);
        process.OutputDataReceived += (_, e) => peer.Capture(e.Data);
        process.ErrorDataReceived += (_, e) => peer.Capture(e.Data);
        process.Start();
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();

        try
        {
            await peer.WaitForPortAsync(port);
        }
        catch
        {
            await peer.DisposeAsync();
            throw;
        }

        return peer;
    }

    /// <summary>The full path of <paramref name="name"/> on PATH or in the sbin folders, or a failure naming the package.</summary>
    public static string FindExecutable(string name, string package)
    {
        string path = Environment.GetEnvironmentVariable("PATH") ?? "";
        IEnumerable<string> directories = path.Split(Path.PathSeparator, StringSplitOptions.RemoveEmptyEntries)
            .Concat(["/usr/sbin", "/sbin", "/usr/bin", "/usr/local/sbin", "/usr/local/bin"]);
        foreach (string directory in directories)
        {
            string candidate = Path.Combine(directory, name);
            if (File.Exists(candidate))
            {
                return candidate;
            }
        }

        throw new InvalidOperationException(
            $"{name} not installed (Debian package '{package}'): run `bash eng/install-peers.sh` (looked on PATH and in the sbin/bin folders).");
    }

    /// <summary>Runs a short command (such as <c>haproxy -v</c>) and returns its stdout and stderr.</summary>
    public static async Task<string> RunAsync(string executable, params string[] arguments)
    {
        var start = new ProcessStartInfo(executable)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (string argument in arguments)
        {
            start.ArgumentList.Add(argument);
        }

        using var process = Process.Start(start) ?? throw new InvalidOperationException($"could not start {executable}");
        Task<string> stdout = process.StandardOutput.ReadToEndAsync();
        Task<string> stderr = process.StandardError.ReadToEndAsync();
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        await process.WaitForExitAsync(cts.Token);
        return await stdout + await stderr;
    }

    public async ValueTask DisposeAsync()
    {
        try
        {
            if (!_process.HasExited)
            {
                _process.Kill(entireProcessTree: true);
                await _process.WaitForExitAsync().WaitAsync(TimeSpan.FromSeconds(10));
            }
        }
        catch (InvalidOperationException)
        {
            // Already gone.
        }
        catch (TimeoutException)
        {
            // Reported by the leak, not by the test.
        }

        _process.Dispose();
        try
        {
            System.IO.Directory.Delete(Directory, recursive: true);
        }
        catch (IOException)
        {
            // Best effort.
        }
        catch (UnauthorizedAccessException)
        {
            // Best effort (files created by a worker running as another user).
        }
    }

    private async Task WaitForPortAsync(int port)
    {
        var deadline = Stopwatch.StartNew();
        while (true)
        {
            if (_process.HasExited)
            {
                throw new InvalidOperationException(
                    $"{Name} exited with code {_process.ExitCode} before listening on 127.0.0.1:{port}. Output:\n{Output}");
            }

            try
            {
                using var probe = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
                await probe.ConnectAsync(new IPEndPoint(IPAddress.Loopback, port));
                return;
            }
            catch (SocketException ex) when (deadline.Elapsed >= TimeSpan.FromSeconds(10))
            {
                throw new InvalidOperationException(
                    $"{Name} did not accept connections on 127.0.0.1:{port} within 10 s ({ex.SocketErrorCode}). Output:\n{Output}", ex);
            }
            catch (SocketException)
            {
                await Task.Delay(50);
            }
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

/// <summary>Free loopback ports for peers.</summary>
public static class FreePort
{
    /// <summary>A port on 127.0.0.1 that was free a moment ago.</summary>
    public static int Next()
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
}
