using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Text.RegularExpressions;

namespace ProxyKestrel.Testing;

/// <summary>
/// A child process for tests (a real peer, the sample app, ...): started with redirected stdout/stderr whose lines are
/// captured thread-safely; waits for a line matching a pattern or for a loopback port to accept; dispose kills the
/// whole process tree.
/// </summary>
public sealed class ChildProcess : IAsyncDisposable, IDisposable
{
    private readonly Process _process;
    private readonly int _maxCapturedChars;
    private readonly Lock _lock = new();
    private readonly List<string> _lines = [];
    private readonly List<(Regex Pattern, TaskCompletionSource<Match> Found)> _waiters = [];
    private readonly TaskCompletionSource _exited = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private int _capturedChars;

    private ChildProcess(Process process, string name, int maxCapturedChars)
    {
        _process = process;
        Name = name;
        _maxCapturedChars = maxCapturedChars;
    }

    /// <summary>The process's name, for messages.</summary>
    public string Name { get; }

    /// <summary>The lines written on stdout/stderr so far (at most the configured number of characters), joined by '\n'.</summary>
    public string Output
    {
        get
        {
            lock (_lock)
            {
                return string.Join('\n', _lines);
            }
        }
    }

    /// <summary>True once the process has exited.</summary>
    public bool HasExited => _process.HasExited;

    /// <summary>The exit code, or "?" when it cannot be read (not exited, or disposed).</summary>
    public string SafeExitCode
    {
        get
        {
            try
            {
                return _process.ExitCode.ToString(System.Globalization.CultureInfo.InvariantCulture);
            }
            catch (InvalidOperationException)
            {
                return "?";
            }
        }
    }

    /// <summary>
    /// Starts <paramref name="executable"/> with <paramref name="arguments"/> (and extra <paramref name="environment"/>
    /// variables) in <paramref name="workingDirectory"/>, capturing its output.
    /// </summary>
    public static ChildProcess Start(
        string executable,
        IEnumerable<string> arguments,
        string? workingDirectory = null,
        IEnumerable<KeyValuePair<string, string>>? environment = null,
        string? name = null,
        int maxCapturedChars = int.MaxValue)
    {
        var info = new ProcessStartInfo(executable)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        if (workingDirectory is not null)
        {
            info.WorkingDirectory = workingDirectory;
        }

        foreach (string argument in arguments)
        {
            info.ArgumentList.Add(argument);
        }

        foreach ((string key, string value) in environment ?? [])
        {
            info.Environment[key] = value;
        }

        var process = new Process { StartInfo = info, EnableRaisingEvents = true };
        var child = new ChildProcess(process, name ?? Path.GetFileName(executable), maxCapturedChars);
        process.OutputDataReceived += (_, e) => child.OnLine(e.Data);
        process.ErrorDataReceived += (_, e) => child.OnLine(e.Data);
        process.Exited += (_, _) =>
        {
            // Exited can be raised before the redirected output is drained; WaitForExit() waits for it.
            try
            {
                process.WaitForExit();
            }
            catch (InvalidOperationException)
            {
                // Disposed meanwhile.
            }

            child._exited.TrySetResult();
        };
        if (!process.Start())
        {
            process.Dispose();
            throw new InvalidOperationException($"could not start {executable}");
        }

        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        return child;
    }

    /// <summary>Runs a short command (such as <c>haproxy -v</c>) to its end (30 s at most) and returns its stdout and stderr.</summary>
    public static async Task<(string StandardOutput, string StandardError)> RunAsync(string executable, params string[] arguments)
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
        return (await stdout, await stderr);
    }

    /// <summary>The full path of <paramref name="name"/> on PATH or in the usual sbin/bin folders, or null.</summary>
    public static string? FindExecutable(string name)
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

        return null;
    }

    /// <summary>
    /// Waits for a line matching <paramref name="pattern"/> (already captured or to come) and returns its match; fails
    /// with "<c>{Name} exited with {code}:\n{output}</c>" when the process exits first, with a
    /// <see cref="TimeoutException"/> after <paramref name="timeout"/>.
    /// </summary>
    public async Task<Match> WaitForLineAsync(Regex pattern, TimeSpan timeout)
    {
        var found = new TaskCompletionSource<Match>(TaskCreationOptions.RunContinuationsAsynchronously);
        lock (_lock)
        {
            foreach (string line in _lines)
            {
                Match m = pattern.Match(line);
                if (m.Success)
                {
                    return m;
                }
            }

            _waiters.Add((pattern, found));
        }

        try
        {
            await Task.WhenAny(found.Task, _exited.Task).WaitAsync(timeout);
            if (found.Task.IsCompleted)
            {
                return await found.Task;
            }

            throw new InvalidOperationException($"{Name} exited with {SafeExitCode}:\n{Output}");
        }
        finally
        {
            lock (_lock)
            {
                _waiters.RemoveAll(w => w.Found == found);
            }
        }
    }

    /// <summary>Waits until 127.0.0.1:<paramref name="port"/> accepts a connection (10 s at most).</summary>
    public async Task WaitForPortAsync(int port)
    {
        var deadline = Stopwatch.StartNew();
        while (true)
        {
            if (_process.HasExited)
            {
                throw new InvalidOperationException(
                    $"{Name} exited with code {SafeExitCode} before listening on 127.0.0.1:{port}. Output:\n{Output}");
            }

            try
            {
                // Closed without sending anything: the peer just drops the empty connection.
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

    /// <summary>Waits for the process to exit by itself and returns its exit code.</summary>
    public async Task<int> WaitForExitAsync(TimeSpan timeout)
    {
        using var cts = new CancellationTokenSource(timeout);
        await _process.WaitForExitAsync(cts.Token);
        return _process.ExitCode;
    }

    /// <summary>Kills the process tree (if still running) and waits up to 10 s for it to go.</summary>
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
    }

    /// <summary>Kills the process tree (if still running) and waits up to 10 s for it to go.</summary>
    public void Dispose()
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
    }

    private void OnLine(string? line)
    {
        if (line is null)
        {
            return;
        }

        lock (_lock)
        {
            if (_capturedChars < _maxCapturedChars)
            {
                _lines.Add(line);
                _capturedChars += line.Length + 1;
            }

            foreach ((Regex pattern, TaskCompletionSource<Match> found) in _waiters)
            {
                Match m = pattern.Match(line);
                if (m.Success)
                {
                    found.TrySetResult(m);
                }
            }
        }
    }
}

/// <summary>Free loopback ports.</summary>
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

    /// <summary>
    /// A port on 127.0.0.1 that was free a moment ago for UDP and for TCP alike (DNS servers bind both on one port).
    /// </summary>
    public static int NextUdpAndTcp()
    {
        for (int attempt = 0; ; attempt++)
        {
            using var udp = new Socket(AddressFamily.InterNetwork, SocketType.Dgram, ProtocolType.Udp);
            udp.Bind(new IPEndPoint(IPAddress.Loopback, 0));
            int port = ((IPEndPoint)udp.LocalEndPoint!).Port;
            var tcp = new TcpListener(IPAddress.Loopback, port);
            try
            {
                tcp.Start();
                return port;
            }
            catch (SocketException) when (attempt < 20)
            {
                // Taken for TCP: try another.
            }
            finally
            {
                tcp.Stop();
            }
        }
    }
}

/// <summary>Temporary directories for child processes (configuration files, pid, temp paths).</summary>
public static class TempDirectory
{
    /// <summary>Creates a new temporary directory named after <paramref name="name"/>.</summary>
    public static string Create(string name) => Directory.CreateTempSubdirectory($"pk-{name}-").FullName;

    /// <summary>Deletes <paramref name="path"/> and its content, best effort.</summary>
    public static void TryDelete(string? path)
    {
        if (path is null || !Directory.Exists(path))
        {
            return;
        }

        try
        {
            Directory.Delete(path, recursive: true);
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
}
