namespace ProxyKestrel.AspNetCore.Tests.RealPeers;

/// <summary>
/// A real peer (HAProxy, nginx, ...) run in the foreground as a child process with its own temporary directory.
/// Start waits until the peer accepts connections on its port; dispose kills the process tree and deletes the
/// directory. A missing binary is a failure with a clear message, never a skip.
/// </summary>
public sealed class PeerProcess : IAsyncDisposable
{
    private const int MaxCapturedChars = 64 * 1024;

    private readonly ChildProcess _process;

    private PeerProcess(ChildProcess process, string directory)
    {
        _process = process;
        Directory = directory;
    }

    /// <summary>The peer's name, for messages.</summary>
    public string Name => _process.Name;

    /// <summary>The peer's temporary directory (config files, pid, temp paths).</summary>
    public string Directory { get; }

    /// <summary>What the peer wrote on stdout/stderr so far (truncated), for failure messages.</summary>
    public string Output => _process.Output;

    /// <summary>Creates a temporary directory for a peer (to write its configuration before starting it).</summary>
    public static string CreateDirectory(string name) => TempDirectory.Create(name);

    /// <summary>
    /// Starts <paramref name="executable"/> with <paramref name="arguments"/> in <paramref name="directory"/> and waits
    /// until 127.0.0.1:<paramref name="port"/> accepts a connection.
    /// </summary>
    public static async Task<PeerProcess> StartAsync(string executable, IEnumerable<string> arguments, string directory, int port)
    {
        var peer = new PeerProcess(
            ChildProcess.Start(executable, arguments, directory, maxCapturedChars: MaxCapturedChars), directory);
        try
        {
            await peer._process.WaitForPortAsync(port);
        }
        catch
        {
            await peer.DisposeAsync();
            throw;
        }

        return peer;
    }

    /// <summary>The full path of <paramref name="name"/> on PATH or in the sbin folders, or a failure naming the package.</summary>
    public static string FindExecutable(string name, string package) =>
        ChildProcess.FindExecutable(name) ?? throw new InvalidOperationException(
            $"{name} not installed (Debian package '{package}'): run `bash eng/install-peers.sh` (looked on PATH and in the sbin/bin folders).");

    /// <summary>Runs a short command (such as <c>haproxy -v</c>) and returns its stdout and stderr.</summary>
    public static async Task<string> RunAsync(string executable, params string[] arguments)
    {
        (string stdout, string stderr) = await ChildProcess.RunAsync(executable, arguments);
        return stdout + stderr;
    }

    public async ValueTask DisposeAsync()
    {
        await _process.DisposeAsync();
        TempDirectory.TryDelete(Directory);
    }
}
