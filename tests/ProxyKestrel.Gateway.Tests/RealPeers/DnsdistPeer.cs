using System.Globalization;
using System.Text.RegularExpressions;

namespace ProxyKestrel.Gateway.Tests.RealPeers;

/// <summary>
/// A throwaway dnsdist load balancer (<c>dnsdist --supervised --disable-syslog -C DIR/dnsdist.conf</c>) in its own
/// temporary directory, its log on stdout, taking plain DNS queries on 127.0.0.1:<see cref="Port"/> (UDP and TCP, from
/// any loopback client) and forwarding them to one backend on 127.0.0.1, each datagram prefixed by a PROXY v2 header
/// naming the client when <c>useProxyProtocol</c> is on. Its health checks ask the backend for a name it answers
/// (<c>checkName</c>; the default <c>a.root-servers.net.</c> would mark an offline backend down and drop every query);
/// those check datagrams carry dnsdist's own address (127.0.0.1) in their header, so a backend's access control must
/// allow it. No console, no security polling. Dispose kills it and deletes the directory.
/// </summary>
internal sealed class DnsdistPeer : IAsyncDisposable
{
    private const int MaxCapturedChars = 1024 * 1024;

    private static readonly TimeSpan s_startTimeout = TimeSpan.FromSeconds(15);

    private readonly ChildProcess _process;
    private readonly string _directory;

    private DnsdistPeer(ChildProcess process, string directory, string config, int port, int backendPort)
    {
        _process = process;
        _directory = directory;
        Config = config;
        Port = port;
        BackendPort = backendPort;
    }

    /// <summary>The port on 127.0.0.1 (UDP and TCP) that takes plain DNS queries.</summary>
    public int Port { get; }

    /// <summary>The backend's port on 127.0.0.1.</summary>
    public int BackendPort { get; }

    /// <summary>The dnsdist.conf text (for failure messages).</summary>
    public string Config { get; }

    /// <summary>dnsdist's log so far.</summary>
    public string Log => _process.Output;

    /// <summary>
    /// Starts one instance named <paramref name="name"/> in front of 127.0.0.1:<paramref name="backendPort"/>, with
    /// <paramref name="useProxyProtocol"/> and health checks for <paramref name="checkName"/>. Returns once its UDP
    /// socket is bound and, when <paramref name="waitForBackendUp"/>, once it has marked the backend up (before that,
    /// dnsdist drops queries); throws with the captured log otherwise.
    /// </summary>
    public static async Task<DnsdistPeer> StartAsync(
        string name,
        int backendPort,
        bool useProxyProtocol = true,
        string checkName = PkTestZone.HelloName,
        bool waitForBackendUp = true)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(name);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(backendPort);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(backendPort, ushort.MaxValue);
        if (!Regex.IsMatch(checkName, "^[A-Za-z0-9.-]+$"))
        {
            throw new ArgumentException($"'{checkName}' is not a plain DNS name", nameof(checkName));
        }

        string dnsdist = RealPeerProcess.FindExecutable("dnsdist", "dnsdist");
        string instance = "pk-" + Regex.Replace(name, "[^A-Za-z0-9-]", "-");
        string directory = TempDirectory.Create("dnsdist-" + instance);
        int port = FreePort.NextUdpAndTcp();
        string proxy = useProxyProtocol ? "true" : "false";
        string config = string.Create(
            CultureInfo.InvariantCulture,
            $$"""
            setLocal("127.0.0.1:{{port}}")
            newServer({address="127.0.0.1:{{backendPort}}", useProxyProtocol={{proxy}}, checkName="{{checkName}}"})
            setSecurityPollSuffix("")

            """);
        string configPath = Path.Combine(directory, "dnsdist.conf");
        await File.WriteAllTextAsync(configPath, config);

        var process = ChildProcess.Start(
            dnsdist, ["--supervised", "--disable-syslog", "-C", configPath], directory, name: "dnsdist " + instance, maxCapturedChars: MaxCapturedChars);
        var peer = new DnsdistPeer(process, directory, config, port, backendPort);
        try
        {
            await UdpListeners.WaitAsync(process, [port], s_startTimeout);
            if (waitForBackendUp)
            {
                await process.WaitForLineAsync(
                    new Regex("Marking downstream " + Regex.Escape($"127.0.0.1:{backendPort}") + " as 'up'"), s_startTimeout);
            }
        }
        catch (Exception e) when (e is TimeoutException or InvalidOperationException)
        {
            string log = peer.Log;
            await peer.DisposeAsync();
            throw new InvalidOperationException($"dnsdist did not start: {e.Message}\n--- log ---\n{log}\n--- dnsdist.conf ---\n{config}", e);
        }

        return peer;
    }

    /// <summary>
    /// Waits for a log line containing <paramref name="substring"/> and returns it; throws with the log so far when
    /// none comes within <paramref name="timeout"/> (default 10 s).
    /// </summary>
    public Task<string> WaitForLogAsync(string substring, TimeSpan? timeout = null) =>
        PeerLog.WaitForLineAsync(_process, "dnsdist", substring, timeout ?? TimeSpan.FromSeconds(10));

    public async ValueTask DisposeAsync()
    {
        await _process.DisposeAsync();
        TempDirectory.TryDelete(_directory);
    }
}
