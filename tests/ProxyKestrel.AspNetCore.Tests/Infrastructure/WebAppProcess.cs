using System.Diagnostics;
using System.Text.RegularExpressions;

namespace ProxyKestrel.AspNetCore.Tests.Infrastructure;

/// <summary>
/// Runs samples/WebApp as a real process (<c>dotnet WebApp.dll --urls http://127.0.0.1:0 ...</c>), exactly as a user
/// would, and reads the port it bound from its "Now listening on" log line.
/// </summary>
public sealed partial class WebAppProcess : IAsyncDisposable
{
    private readonly Process _process;
    private readonly List<string> _output = [];
    private readonly TaskCompletionSource<int> _port = new(TaskCreationOptions.RunContinuationsAsynchronously);

    private WebAppProcess(Process process) => _process = process;

    /// <summary>The loopback port the app listens on.</summary>
    public int Port { get; private set; }

    /// <summary>Everything the process printed so far.</summary>
    public string Output
    {
        get
        {
            lock (_output)
            {
                return string.Join('\n', _output);
            }
        }
    }

    /// <summary>Starts the sample with extra command-line arguments and environment variables.</summary>
    public static async Task<WebAppProcess> StartAsync(IEnumerable<string>? arguments = null, IDictionary<string, string>? environment = null, string urls = "http://127.0.0.1:0")
    {
        string dll = Path.Combine(RepoPaths.Root, "samples", "WebApp", "bin", RepoPaths.Configuration, "net10.0", "WebApp.dll");
        if (!File.Exists(dll))
        {
            throw new FileNotFoundException($"The sample is not built: {dll}. Build the solution first.", dll);
        }

        var info = new ProcessStartInfo("dotnet")
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
            WorkingDirectory = Path.GetDirectoryName(dll)!,
        };
        info.ArgumentList.Add(dll);
        info.ArgumentList.Add("--urls");
        info.ArgumentList.Add(urls);
        foreach (string argument in arguments ?? [])
        {
            info.ArgumentList.Add(argument);
        }

        info.Environment["DOTNET_NOLOGO"] = "1";
        info.Environment["ASPNETCORE_ENVIRONMENT"] = "Production";
        info.Environment["Logging__Console__FormatterName"] = "simple";
        foreach ((string key, string value) in environment ?? new Dictionary<string, string>())
        {
            info.Environment[key] = value;
        }

        var process = new Process { StartInfo = info, EnableRaisingEvents = true };
        var app = new WebAppProcess(process);
        process.OutputDataReceived += (_, e) => app.OnLine(e.Data);
        process.ErrorDataReceived += (_, e) => app.OnLine(e.Data);
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

            app._port.TrySetException(new InvalidOperationException($"WebApp exited with {SafeExitCode(process)}:\n{app.Output}"));
        };
        process.Start();
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        try
        {
            app.Port = await app._port.Task.WaitAsync(TimeSpan.FromSeconds(30));
        }
        catch
        {
            await app.DisposeAsync();
            throw;
        }

        return app;
    }

    /// <summary>Waits until the output contains <paramref name="text"/> (logs are written asynchronously).</summary>
    public async Task<bool> WaitForOutputAsync(string text, TimeSpan timeout)
    {
        long deadline = Environment.TickCount64 + (long)timeout.TotalMilliseconds;
        while (!Output.Contains(text, StringComparison.Ordinal))
        {
            if (Environment.TickCount64 > deadline)
            {
                return false;
            }

            await Task.Delay(20);
        }

        return true;
    }

    /// <summary>Waits for the process to exit by itself (for start-up failures) and returns its exit code.</summary>
    public async Task<int> WaitForExitAsync(TimeSpan timeout)
    {
        using var cts = new CancellationTokenSource(timeout);
        await _process.WaitForExitAsync(cts.Token);
        return _process.ExitCode;
    }

    /// <summary>Starts the sample expecting it to fail at start-up; returns its exit code and output.</summary>
    public static async Task<(int ExitCode, string Output)> RunExpectingFailureAsync(IEnumerable<string> arguments)
    {
        try
        {
            await using WebAppProcess app = await StartAsync(arguments);
            throw new InvalidOperationException($"WebApp started although it was expected to fail:\n{app.Output}");
        }
        catch (InvalidOperationException e) when (e.Message.StartsWith("WebApp exited with", StringComparison.Ordinal))
        {
            Match m = ExitCodeRegex().Match(e.Message);
            return (m.Success ? int.Parse(m.Groups[1].Value, System.Globalization.CultureInfo.InvariantCulture) : -1, e.Message);
        }
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

        _process.Dispose();
    }

    private void OnLine(string? line)
    {
        if (line is null)
        {
            return;
        }

        lock (_output)
        {
            _output.Add(line);
        }

        Match m = ListeningRegex().Match(line);
        if (m.Success)
        {
            _port.TrySetResult(int.Parse(m.Groups[1].Value, System.Globalization.CultureInfo.InvariantCulture));
        }
    }

    private static string SafeExitCode(Process process)
    {
        try
        {
            return process.ExitCode.ToString(System.Globalization.CultureInfo.InvariantCulture);
        }
        catch (InvalidOperationException)
        {
            return "?";
        }
    }

    [GeneratedRegex(@"Now listening on: https?://[^:\]]+(?:\])?:(\d+)")]
    private static partial Regex ListeningRegex();

    [GeneratedRegex(@"^WebApp exited with (-?\d+)")]
    private static partial Regex ExitCodeRegex();
}
