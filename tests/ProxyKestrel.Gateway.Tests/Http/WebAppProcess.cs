using System.Globalization;
using System.Text.RegularExpressions;

namespace ProxyKestrel.Gateway.Tests.Http;

/// <summary>
/// Runs samples/WebApp (the PROXY protocol middleware behind <c>GET /</c> reporting who it believes the client is) as
/// a real process on 127.0.0.1:0 and reads the port from its "Now listening on" line.
/// </summary>
internal sealed partial class WebAppProcess : IAsyncDisposable
{
#if DEBUG
    private const string Configuration = "Debug";
#else
    private const string Configuration = "Release";
#endif

    private readonly ChildProcess _process;

    private WebAppProcess(ChildProcess process) => _process = process;

    /// <summary>The loopback port the app listens on.</summary>
    public int Port { get; private set; }

    /// <summary>Everything the process printed so far.</summary>
    public string Output => _process.Output;

    /// <summary>Starts the sample with extra command-line arguments.</summary>
    public static async Task<WebAppProcess> StartAsync(params string[] arguments)
    {
        string dll = Path.Combine(FindRoot(), "samples", "WebApp", "bin", Configuration, "net10.0", "WebApp.dll");
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
        var app = new WebAppProcess(ChildProcess.Start(
            "dotnet", [dll, "--urls", "http://127.0.0.1:0", .. arguments], Path.GetDirectoryName(dll)!, variables, name: "WebApp"));
        try
        {
            Match listening = await app._process.WaitForLineAsync(ListeningRegex(), TimeSpan.FromSeconds(30));
            app.Port = int.Parse(listening.Groups[1].Value, CultureInfo.InvariantCulture);
        }
        catch
        {
            await app.DisposeAsync();
            throw;
        }

        return app;
    }

    public ValueTask DisposeAsync() => _process.DisposeAsync();

    private static string FindRoot()
    {
        string? directory = AppContext.BaseDirectory;
        while (directory is not null && !File.Exists(Path.Combine(directory, "ProxyKestrel.sln")))
        {
            directory = Path.GetDirectoryName(directory);
        }

        return directory ?? throw new InvalidOperationException("ProxyKestrel.sln not found above " + AppContext.BaseDirectory);
    }

    [GeneratedRegex(@"Now listening on: https?://[^:\]]+(?:\])?:(\d+)")]
    private static partial Regex ListeningRegex();
}
