using System.Text.RegularExpressions;

namespace ProxyKestrel.Testing;

/// <summary>
/// Runs samples/WebApp as a real process (<c>dotnet WebApp.dll --urls http://127.0.0.1:0 ...</c>), exactly as a user
/// would, and reads the port it bound from its "Now listening on" log line.
/// </summary>
public sealed partial class WebAppProcess : IAsyncDisposable
{
    private readonly ChildProcess _process;

    private WebAppProcess(ChildProcess process) => _process = process;

    /// <summary>The loopback port the app listens on.</summary>
    public int Port { get; private set; }

    /// <summary>Everything the process printed so far.</summary>
    public string Output => _process.Output;

    /// <summary>Starts the sample with extra command-line arguments and environment variables.</summary>
    public static async Task<WebAppProcess> StartAsync(IEnumerable<string>? arguments = null, IDictionary<string, string>? environment = null, string urls = "http://127.0.0.1:0")
    {
        string dll = Path.Combine(RepoPaths.SampleOutput("WebApp"), "WebApp.dll");
        if (!File.Exists(dll))
        {
            throw new FileNotFoundException($"The sample is not built: {dll}. Build the solution first.", dll);
        }

        var variables = new Dictionary<string, string>
        {
            ["DOTNET_NOLOGO"] = "1",
            ["ASPNETCORE_ENVIRONMENT"] = "Production",
            ["Logging__Console__FormatterName"] = "simple",
        };
        foreach ((string key, string value) in environment ?? new Dictionary<string, string>())
        {
            variables[key] = value;
        }

        // The exit failure reads "WebApp exited with {code}:\n{output}" (parsed by RunExpectingFailureAsync).
        var app = new WebAppProcess(ChildProcess.Start(
            "dotnet", [dll, "--urls", urls, .. arguments ?? []], Path.GetDirectoryName(dll)!, variables, name: "WebApp"));
        try
        {
            Match listening = await app._process.WaitForLineAsync(ListeningRegex(), TimeSpan.FromSeconds(30));
            app.Port = int.Parse(listening.Groups[1].Value, System.Globalization.CultureInfo.InvariantCulture);
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
    public Task<int> WaitForExitAsync(TimeSpan timeout) => _process.WaitForExitAsync(timeout);

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

    public ValueTask DisposeAsync() => _process.DisposeAsync();

    [GeneratedRegex(@"Now listening on: https?://[^:\]]+(?:\])?:(\d+)")]
    private static partial Regex ListeningRegex();

    [GeneratedRegex(@"^WebApp exited with (-?\d+)")]
    private static partial Regex ExitCodeRegex();
}
