using System.Net;
using System.Text;
using System.Text.RegularExpressions;

namespace ProxyKestrel.Gateway.Tests.RealPeers;

/// <summary>
/// A throwaway unbound resolver (<c>unbound -d -c DIR/unbound.conf</c>) in its own temporary directory, its log on
/// stderr, answering on 127.0.0.1:<see cref="Port"/> (UDP and TCP) where a PROXY v2 header is mandatory
/// (<c>proxy-protocol-port</c>): a datagram is the header (family UDP4, 0x12) followed by the DNS query, the answer
/// comes back without a header, and a datagram without one is dropped. unbound 1.17 applies its access control to the
/// datagram's source address and to the address in the header alike: both must be in the allowed networks, else the
/// answer is REFUSED (RCODE 5); the rest of 127.0.0.0/8 is refused. So a sender that proxies others (a gateway,
/// dnsdist, both on 127.0.0.1) must be allowed next to its clients. It serves the local zone
/// <see cref="PkTestZone"/> (<c>hello.pk.test. A 192.0.2.77</c>) and nothing else (no recursion to the Internet), and logs
/// every query as <c>info: CLIENT NAME TYPE CLASS</c> (<c>log-queries</c>). Dispose kills it and deletes the directory.
/// </summary>
internal sealed class UnboundPeer : IAsyncDisposable
{
    private const int MaxCapturedChars = 1024 * 1024;

    private static readonly TimeSpan s_startTimeout = TimeSpan.FromSeconds(15);

    private readonly ChildProcess _process;
    private readonly string _directory;

    private UnboundPeer(ChildProcess process, string directory, string config, int port)
    {
        _process = process;
        _directory = directory;
        Config = config;
        Port = port;
    }

    /// <summary>The port on 127.0.0.1 (UDP and TCP) that requires a PROXY v2 header.</summary>
    public int Port { get; }

    /// <summary>The unbound.conf text (for failure messages).</summary>
    public string Config { get; }

    /// <summary>unbound's log so far.</summary>
    public string Log => _process.Output;

    /// <summary>
    /// Starts one instance named <paramref name="name"/> whose access control allows the networks in
    /// <paramref name="allow"/> (CIDRs such as <c>127.0.0.2/32</c>, matched against the datagram's source address and
    /// the header's source address, both of which must be allowed) and refuses the rest of 127.0.0.0/8; returns once
    /// its UDP socket is bound, or throws with the captured log.
    /// </summary>
    public static async Task<UnboundPeer> StartAsync(string name, IReadOnlyList<string> allow)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(name);
        ArgumentNullException.ThrowIfNull(allow);
        string unbound = RealPeerProcess.FindExecutable("unbound", "unbound");

        string instance = "pk-" + Regex.Replace(name, "[^A-Za-z0-9-]", "-");
        string directory = TempDirectory.Create("unbound-" + instance);
        int port = FreePort.NextUdpAndTcp();
        string config = Configuration(directory, port, allow);
        string configPath = Path.Combine(directory, "unbound.conf");
        await File.WriteAllTextAsync(configPath, config);

        var process = ChildProcess.Start(unbound, ["-d", "-c", configPath], directory, name: "unbound " + instance, maxCapturedChars: MaxCapturedChars);
        var peer = new UnboundPeer(process, directory, config, port);
        try
        {
            await UdpListeners.WaitAsync(process, [port], s_startTimeout);
        }
        catch (Exception e) when (e is TimeoutException or InvalidOperationException)
        {
            string log = peer.Log;
            await peer.DisposeAsync();
            throw new InvalidOperationException($"unbound did not start: {e.Message}\n--- log ---\n{log}\n--- unbound.conf ---\n{config}", e);
        }

        return peer;
    }

    /// <summary>
    /// Waits for a log line containing <paramref name="substring"/> (such as <c>127.0.0.2 hello.pk.test. A IN</c>)
    /// and returns it; throws with the log so far when none comes within <paramref name="timeout"/> (default 10 s).
    /// </summary>
    public Task<string> WaitForLogAsync(string substring, TimeSpan? timeout = null) =>
        PeerLog.WaitForLineAsync(_process, "unbound", substring, timeout ?? TimeSpan.FromSeconds(10));

    public async ValueTask DisposeAsync()
    {
        await _process.DisposeAsync();
        TempDirectory.TryDelete(_directory);
    }

    private static string Configuration(string directory, int port, IReadOnlyList<string> allow)
    {
        var accessControl = new StringBuilder();
        foreach (string network in allow)
        {
            // Validates the text too: nothing but a CIDR reaches the file.
            accessControl.Append("  access-control: ").Append(IPNetwork.Parse(network)).Append(" allow\n");
        }

        return $"""
            server:
              interface: 127.0.0.1@{port}
              port: {port}
              proxy-protocol-port: {port}
              do-daemonize: no
              chroot: ""
              username: ""
              directory: "{directory}"
              pidfile: "{directory}/unbound.pid"
              use-syslog: no
              logfile: ""
              verbosity: 1
              log-queries: yes
              num-threads: 1
              do-ip6: no
              module-config: "iterator"
              access-control: 127.0.0.0/8 refuse
            {accessControl}  local-zone: "pk.test." static
              local-data: "{PkTestZone.HelloName} 60 IN A {PkTestZone.HelloAddress}"
            remote-control:
              control-enable: no

            """;
    }
}
