using System.Diagnostics;
using System.Globalization;
using System.Text;
using System.Text.RegularExpressions;

namespace ProxyKestrel.Gateway.Tests.RealPeers;

/// <summary>
/// A throwaway Dovecot instance (<c>dovecot -F -c DIR/dovecot.conf</c>) in its own temporary directory, its log on
/// stderr, with an IMAP and a POP3 listener on 127.0.0.1 that require a PROXY header (<c>haproxy = yes</c>:
/// <see cref="ImapPort"/>, <see cref="Pop3Port"/>) and, when asked for, two without (<see cref="ImapPlainPort"/>,
/// <see cref="Pop3PlainPort"/>). Users come from a passwd-file (<c>user:{PLAIN}password</c>, optionally with the
/// <c>allow_nets</c> extra field), mail goes to DIR/mail as the dovecot user. Several instances run side by side
/// (own base_dir and state_dir, anvil not chrooted). Dispose kills the process tree and deletes the directory.
/// </summary>
internal sealed class DovecotPeer : IAsyncDisposable
{
    private const int MaxCapturedChars = 1024 * 1024;

    private static readonly TimeSpan s_startTimeout = TimeSpan.FromSeconds(15);

    private readonly ChildProcess _process;
    private readonly string _directory;

    private DovecotPeer(ChildProcess process, string directory, string config, int imap, int pop3, int? imapPlain, int? pop3Plain, int? auth)
    {
        AuthPort = auth;
        _process = process;
        _directory = directory;
        Config = config;
        ImapPort = imap;
        Pop3Port = pop3;
        ImapPlainPort = imapPlain;
        Pop3PlainPort = pop3Plain;
    }

    /// <summary>IMAP on 127.0.0.1 with <c>haproxy = yes</c>: every connection must start with a PROXY v1/v2 header.</summary>
    public int ImapPort { get; }

    /// <summary>POP3 on 127.0.0.1 with <c>haproxy = yes</c>.</summary>
    public int Pop3Port { get; }

    /// <summary>IMAP on 127.0.0.1 without a PROXY header, or null when not asked for.</summary>
    public int? ImapPlainPort { get; }

    /// <summary>POP3 on 127.0.0.1 without a PROXY header, or null when not asked for.</summary>
    public int? Pop3PlainPort { get; }

    /// <summary>
    /// Dovecot's authentication service on 127.0.0.1 for Postfix (<c>smtpd_sasl_type = dovecot</c>,
    /// <c>smtpd_sasl_path = inet:127.0.0.1:PORT</c>), or null when not asked for.
    /// </summary>
    public int? AuthPort { get; }

    /// <summary>The dovecot.conf text (for failure messages).</summary>
    public string Config { get; }

    /// <summary>Dovecot's log so far (all processes log to the master's stderr).</summary>
    public string Log => _process.Output;

    /// <summary>
    /// Starts one instance named <paramref name="name"/> with <paramref name="users"/> (an <c>AllowNets</c> such as
    /// <c>127.0.0.2/32</c> lets that user log in only from the decoded client address) and
    /// <paramref name="trustedNetworks"/> as <c>haproxy_trusted_networks</c> (the addresses allowed to send a header);
    /// returns once every listener is up, or throws with the captured log.
    /// </summary>
    public static async Task<DovecotPeer> StartAsync(
        string name,
        IReadOnlyList<(string User, string Password, string? AllowNets)> users,
        string trustedNetworks = "127.0.0.1/32",
        bool plainListeners = false,
        bool authListener = false)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(name);
        ArgumentNullException.ThrowIfNull(users);
        string dovecot = RealPeerProcess.FindExecutable("dovecot", "dovecot-core");
        RequireLoginBinary("imap-login", "dovecot-imapd");
        RequireLoginBinary("pop3-login", "dovecot-pop3d");

        string instance = "pk-" + Regex.Replace(name, "[^A-Za-z0-9-]", "-");
        string directory = TempDirectory.Create("dovecot-" + instance);
        string mail = Path.Combine(directory, "mail");
        string home = Path.Combine(directory, "home");
        Directory.CreateDirectory(mail);
        Directory.CreateDirectory(home);
        // Login processes run as dovenull, mail processes as dovecot: the tree must be traversable, mail and home writable.
        if (!OperatingSystem.IsWindows())
        {
            File.SetUnixFileMode(directory, (UnixFileMode)0b111_101_101);
            File.SetUnixFileMode(mail, (UnixFileMode)0b111_111_111);
            File.SetUnixFileMode(home, (UnixFileMode)0b111_111_111);
        }

        string usersPath = Path.Combine(directory, "users");
        await File.WriteAllTextAsync(usersPath, PasswdFile(users));

        int imap = FreePort.Next();
        int pop3 = FreePort.Next();
        int? imapPlain = plainListeners ? FreePort.Next() : null;
        int? pop3Plain = plainListeners ? FreePort.Next() : null;
        int? auth = authListener ? FreePort.Next() : null;
        string config = Configuration(instance, directory, usersPath, trustedNetworks, imap, pop3, imapPlain, pop3Plain, auth);
        string configPath = Path.Combine(directory, "dovecot.conf");
        await File.WriteAllTextAsync(configPath, config);

        var process = ChildProcess.Start(dovecot, ["-F", "-c", configPath], directory, name: "dovecot " + instance, maxCapturedChars: MaxCapturedChars);
        var peer = new DovecotPeer(process, directory, config, imap, pop3, imapPlain, pop3Plain, auth);
        try
        {
            int[] ports = [imap, pop3, .. imapPlain is int i ? [i] : Array.Empty<int>(), .. pop3Plain is int p ? [p] : Array.Empty<int>(), .. auth is int a ? [a] : Array.Empty<int>()];
            await peer.WaitForListenersAsync(ports);
        }
        catch (Exception e) when (e is TimeoutException or InvalidOperationException)
        {
            string log = peer.Log;
            await peer.DisposeAsync();
            throw new InvalidOperationException($"Dovecot did not start: {e.Message}\n--- log ---\n{log}\n--- dovecot.conf ---\n{config}", e);
        }

        return peer;
    }

    /// <summary>
    /// Waits for a log line containing <paramref name="substring"/> (already logged or to come) and returns the line;
    /// throws with the log so far when none comes within <paramref name="timeout"/> or Dovecot exits.
    /// </summary>
    public async Task<string> WaitForLogAsync(string substring, TimeSpan timeout)
    {
        ArgumentException.ThrowIfNullOrEmpty(substring);
        try
        {
            Match line = await _process.WaitForLineAsync(new Regex("^.*" + Regex.Escape(substring) + ".*$"), timeout);
            return line.Value;
        }
        catch (Exception e) when (e is TimeoutException or InvalidOperationException)
        {
            throw new InvalidOperationException($"Dovecot did not log '{substring}' within {timeout.TotalSeconds:0.#} s:\n{Log}", e);
        }
    }

    public async ValueTask DisposeAsync()
    {
        await _process.DisposeAsync();
        TempDirectory.TryDelete(_directory);
    }

    private static void RequireLoginBinary(string binary, string package)
    {
        if (!File.Exists(Path.Combine("/usr/lib/dovecot", binary)))
        {
            throw new InvalidOperationException(
                $"/usr/lib/dovecot/{binary} not installed (Debian package '{package}'): run `bash eng/install-peers.sh`.");
        }
    }

    private static string PasswdFile(IReadOnlyList<(string User, string Password, string? AllowNets)> users)
    {
        var text = new StringBuilder();
        foreach ((string user, string password, string? allowNets) in users)
        {
            if (user.Length == 0 || user.AsSpan().IndexOfAny(":\r\n ") >= 0 || password.AsSpan().IndexOfAny(":\r\n") >= 0
                || (allowNets is not null && allowNets.AsSpan().IndexOfAny(":\r\n ") >= 0))
            {
                throw new ArgumentException($"user '{user}': no ':', space or line break in a passwd-file field", nameof(users));
            }

            // user:password:uid:gid:(gecos):home:(shell):extra_fields; uid, gid and home come from the static userdb.
            text.Append(CultureInfo.InvariantCulture, $"{user}:{{PLAIN}}{password}::::::");
            if (allowNets is not null)
            {
                text.Append(CultureInfo.InvariantCulture, $"allow_nets={allowNets}");
            }

            text.Append('\n');
        }

        return text.ToString();
    }

    private static string Configuration(
        string instance, string directory, string usersPath, string trustedNetworks, int imap, int pop3, int? imapPlain, int? pop3Plain, int? auth)
    {
        string authListener = auth is int ap ? $"service auth {{\n  inet_listener {{\n    address = 127.0.0.1\n    port = {ap}\n  }}\n}}" : "";
        string imapPlainListener = imapPlain is int ip ? $"inet_listener imapplain {{\n    address = 127.0.0.1\n    port = {ip}\n  }}" : "";
        string pop3PlainListener = pop3Plain is int pp ? $"inet_listener pop3plain {{\n    address = 127.0.0.1\n    port = {pp}\n  }}" : "";
        return $$"""
            instance_name = {{instance}}
            base_dir = {{directory}}/run
            state_dir = {{directory}}/state
            log_path = /dev/stderr
            info_log_path = /dev/stderr
            debug_log_path = /dev/stderr
            protocols = imap pop3
            listen = 127.0.0.1
            ssl = no
            disable_plaintext_auth = no
            auth_verbose = yes
            auth_failure_delay = 0
            default_login_user = dovenull
            default_internal_user = dovecot
            default_internal_group = dovecot
            first_valid_uid = 1
            mail_location = maildir:{{directory}}/mail/%u
            haproxy_trusted_networks = {{trustedNetworks}}
            login_log_format_elements = user=<%u> method=%m rip=%r rport=%{rport} lip=%l lport=%{lport} mpid=%e %c session=<%{session}>

            passdb {
              driver = passwd-file
              args = scheme=PLAIN username_format=%u {{usersPath}}
            }

            userdb {
              driver = static
              args = uid=dovecot gid=dovecot home={{directory}}/home/%u
            }

            service imap-login {
              inet_listener imap {
                port = 0
              }
              inet_listener imaps {
                port = 0
              }
              inet_listener imapha {
                address = 127.0.0.1
                port = {{imap}}
                haproxy = yes
              }
              {{imapPlainListener}}
            }

            service pop3-login {
              inet_listener pop3 {
                port = 0
              }
              inet_listener pop3s {
                port = 0
              }
              inet_listener pop3ha {
                address = 127.0.0.1
                port = {{pop3}}
                haproxy = yes
              }
              {{pop3PlainListener}}
            }

            # Not chrooted to base_dir/empty, so that instances side by side do not share anything.
            service anvil {
              chroot =
            }

            {{authListener}}

            """;
    }

    /// <summary>
    /// Waits until each of <paramref name="ports"/> is a listening socket on 127.0.0.1, read from /proc/net/tcp rather
    /// than probed: a probe of a <c>haproxy = yes</c> listener would log a haproxy warning that tests could mistake
    /// for their own connection. Listening is enough: the kernel accepts into the backlog, the master hands over.
    /// </summary>
    private async Task WaitForListenersAsync(int[] ports)
    {
        var deadline = Stopwatch.StartNew();
        while (true)
        {
            if (_process.HasExited)
            {
                throw new InvalidOperationException($"dovecot exited with {_process.SafeExitCode} before listening");
            }

            HashSet<int> listening = await ListeningLoopbackPortsAsync();
            int[] missing = [.. ports.Where(p => !listening.Contains(p))];
            if (missing.Length == 0)
            {
                return;
            }

            if (deadline.Elapsed > s_startTimeout)
            {
                throw new TimeoutException($"not listening on 127.0.0.1:{string.Join(", ", missing)} within {s_startTimeout.TotalSeconds:0} s");
            }

            await Task.Delay(50);
        }
    }

    private static async Task<HashSet<int>> ListeningLoopbackPortsAsync()
    {
        // "  sl  local_address rem_address   st ...": local 0100007F:PORT (127.0.0.1, hex), state 0A = LISTEN.
        var ports = new HashSet<int>();
        foreach (string line in await File.ReadAllLinesAsync("/proc/net/tcp"))
        {
            string[] fields = line.Split(' ', StringSplitOptions.RemoveEmptyEntries);
            if (fields.Length > 3 && fields[3] == "0A" && fields[1].StartsWith("0100007F:", StringComparison.Ordinal)
                && int.TryParse(fields[1].AsSpan(9), NumberStyles.HexNumber, CultureInfo.InvariantCulture, out int port))
            {
                ports.Add(port);
            }
        }

        return ports;
    }
}
