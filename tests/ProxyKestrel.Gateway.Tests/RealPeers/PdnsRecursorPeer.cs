using System.Net;
using System.Text.RegularExpressions;

namespace ProxyKestrel.Gateway.Tests.RealPeers;

/// <summary>
/// A throwaway PowerDNS Recursor (<c>pdns_recursor --config-dir=DIR</c>, <c>daemon=no</c>) in its own temporary
/// directory, its log on stdout, answering on 127.0.0.1:<see cref="Port"/> (UDP and TCP). Datagrams from the
/// <c>proxy-protocol-from</c> networks must start with a PROXY v2 header (without one they are dropped as "invalid
/// proxy protocol query"); <c>allow-from</c> applies to the address in the header only (the sender itself need not be
/// in it, unlike unbound's access control) and silently drops the others (no REFUSED, unlike unbound). The packet
/// cache is off, so that every query is logged the same way. It serves <c>pk.test.</c> from a local <c>auth-zones</c> file with
/// <c>hello.pk.test. A 192.0.2.77</c>, and logs each query (<c>quiet=no</c>, structured) as
/// <c>qname="hello.pk.test" qtype="A" remote="CLIENT:PORT (proxied by SENDER:PORT)"</c>. No security polling, no
/// DNSSEC. Dispose kills it and deletes the directory.
/// </summary>
internal sealed class PdnsRecursorPeer : IAsyncDisposable
{
    private const int MaxCapturedChars = 1024 * 1024;

    private static readonly TimeSpan s_startTimeout = TimeSpan.FromSeconds(15);

    private readonly ChildProcess _process;
    private readonly string _directory;

    private PdnsRecursorPeer(ChildProcess process, string directory, string config, int port)
    {
        _process = process;
        _directory = directory;
        Config = config;
        Port = port;
    }

    /// <summary>The port on 127.0.0.1 (UDP and TCP).</summary>
    public int Port { get; }

    /// <summary>The recursor.conf text (for failure messages).</summary>
    public string Config { get; }

    /// <summary>The recursor's log so far.</summary>
    public string Log => _process.Output;

    /// <summary>
    /// Starts one instance named <paramref name="name"/> whose <c>allow-from</c> is <paramref name="allow"/> (CIDRs,
    /// matched against the header's source address) and whose <c>proxy-protocol-from</c> is
    /// <paramref name="proxyProtocolFrom"/> (the senders that must send a header; default 127.0.0.1/32, where a gateway
    /// or dnsdist sends from); returns once its UDP socket is bound, or throws with the captured log.
    /// </summary>
    public static async Task<PdnsRecursorPeer> StartAsync(string name, IReadOnlyList<string> allow, string proxyProtocolFrom = "127.0.0.1/32")
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(name);
        ArgumentNullException.ThrowIfNull(allow);
        string recursor = RealPeerProcess.FindExecutable("pdns_recursor", "pdns-recursor");

        string instance = "pk-" + Regex.Replace(name, "[^A-Za-z0-9-]", "-");
        string directory = TempDirectory.Create("pdns-recursor-" + instance);
        int port = FreePort.NextUdpAndTcp();
        string zonePath = Path.Combine(directory, "pk.test.zone");
        await File.WriteAllTextAsync(zonePath, Zone());

        // Validates the texts too: nothing but CIDRs reaches the file.
        string allowFrom = string.Join(", ", allow.Select(n => IPNetwork.Parse(n).ToString()));
        string proxyFrom = IPNetwork.Parse(proxyProtocolFrom).ToString();
        string config = $"""
            daemon=no
            disable-syslog=yes
            quiet=no
            threads=1
            config-dir={directory}
            socket-dir={directory}
            local-address=127.0.0.1
            local-port={port}
            allow-from={allowFrom}
            proxy-protocol-from={proxyFrom}
            auth-zones=pk.test.={zonePath}
            dnssec=off
            security-poll-suffix=
            disable-packetcache=yes

            """;
        await File.WriteAllTextAsync(Path.Combine(directory, "recursor.conf"), config);

        var process = ChildProcess.Start(
            recursor, ["--config-dir=" + directory], directory, name: "pdns_recursor " + instance, maxCapturedChars: MaxCapturedChars);
        var peer = new PdnsRecursorPeer(process, directory, config, port);
        try
        {
            await UdpListeners.WaitAsync(process, [port], s_startTimeout);
        }
        catch (Exception e) when (e is TimeoutException or InvalidOperationException)
        {
            string log = peer.Log;
            await peer.DisposeAsync();
            throw new InvalidOperationException($"pdns_recursor did not start: {e.Message}\n--- log ---\n{log}\n--- recursor.conf ---\n{config}", e);
        }

        return peer;
    }

    /// <summary>
    /// Waits for a log line containing <paramref name="substring"/> (such as <c>remote="127.0.0.2:</c>) and returns it;
    /// throws with the log so far when none comes within <paramref name="timeout"/> (default 10 s).
    /// </summary>
    public Task<string> WaitForLogAsync(string substring, TimeSpan? timeout = null) =>
        PeerLog.WaitForLineAsync(_process, "pdns_recursor", substring, timeout ?? TimeSpan.FromSeconds(10));

    public async ValueTask DisposeAsync()
    {
        await _process.DisposeAsync();
        TempDirectory.TryDelete(_directory);
    }

    private static string Zone() => $"""
        $ORIGIN pk.test.
        @ 60 IN SOA ns.pk.test. hostmaster.pk.test. 1 3600 600 86400 60
        @ 60 IN NS ns.pk.test.
        ns 60 IN A 192.0.2.1
        hello 60 IN A {PkTestZone.HelloAddress}

        """;
}
