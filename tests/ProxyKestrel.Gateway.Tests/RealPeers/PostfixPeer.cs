using System.Text.RegularExpressions;

namespace ProxyKestrel.Gateway.Tests.RealPeers;

/// <summary>
/// A throwaway Postfix instance (<c>postfix -c DIR/etc start-fg</c>) with its own queue and data directories, its log
/// on stdout (<c>maillog_file = /dev/stdout</c>) and three listeners on 127.0.0.1: postscreen expecting a PROXY
/// header (<see cref="PostscreenPort"/>), smtpd expecting one (<see cref="ProxySmtpdPort"/>) and plain smtpd
/// (<see cref="PlainSmtpdPort"/>). Mail for @localhost is accepted and discarded. Dispose runs
/// <c>postfix -c DIR/etc stop</c> (the master outlives a kill of start-fg).
/// </summary>
internal sealed class PostfixPeer : IAsyncDisposable
{
    private readonly string _postfix;
    private readonly string _directory;
    private readonly ChildProcess _process;

    private PostfixPeer(string postfix, string directory, ChildProcess process, int postscreen, int proxySmtpd, int plainSmtpd, int? submission)
    {
        SubmissionPort = submission;
        _postfix = postfix;
        _directory = directory;
        _process = process;
        PostscreenPort = postscreen;
        ProxySmtpdPort = proxySmtpd;
        PlainSmtpdPort = plainSmtpd;
    }

    /// <summary>postscreen with <c>postscreen_upstream_proxy_protocol = haproxy</c>.</summary>
    public int PostscreenPort { get; }

    /// <summary>smtpd with <c>-o smtpd_upstream_proxy_protocol=haproxy</c>.</summary>
    public int ProxySmtpdPort { get; }

    /// <summary>smtpd without upstream proxy protocol.</summary>
    public int PlainSmtpdPort { get; }

    /// <summary>
    /// Submission: smtpd expecting a PROXY header, with SASL AUTH from Dovecot (<c>smtpd_sasl_type = dovecot</c>), or
    /// null when not asked for.
    /// </summary>
    public int? SubmissionPort { get; }

    /// <summary>Postfix's log so far.</summary>
    public string Log => _process.Output;

    /// <summary>Waits for a log line matching <paramref name="pattern"/>.</summary>
    public async Task<Match> WaitForLogAsync(string pattern, TimeSpan? timeout = null)
    {
        try
        {
            return await _process.WaitForLineAsync(new Regex(pattern), timeout ?? TimeSpan.FromSeconds(15));
        }
        catch (TimeoutException e)
        {
            throw new InvalidOperationException($"Postfix did not log /{pattern}/:\n{Log}", e);
        }
    }

    /// <summary>
    /// Starts the instance; with <paramref name="dovecotAuthPort"/> (a <see cref="DovecotPeer.AuthPort"/>) also the
    /// submission listener, which authenticates there.
    /// </summary>
    public static async Task<PostfixPeer> StartAsync(int? dovecotAuthPort = null)
    {
        string postfix = RealPeerProcess.FindExecutable("postfix", "postfix");
        string directory = TempDirectory.Create("gw-postfix");
        // Postfix daemons run as user postfix: the tree must be traversable, data_directory theirs.
        if (!OperatingSystem.IsWindows())
        {
            File.SetUnixFileMode(directory, (UnixFileMode)0b111_101_101);
        }
        string etc = Path.Combine(directory, "etc");
        string queue = Path.Combine(directory, "queue");
        string data = Path.Combine(directory, "data");
        Directory.CreateDirectory(etc);
        Directory.CreateDirectory(queue);
        Directory.CreateDirectory(data);
        await RunCheckedAsync("chown", "postfix", data);
        int postscreen = FreePort.Next();
        int proxySmtpd = FreePort.Next();
        int plainSmtpd = FreePort.Next();
        int? submission = dovecotAuthPort is null ? null : FreePort.Next();
        string submissionService = dovecotAuthPort is int authPort
            ? $"{submission} inet n - n - - smtpd -o smtpd_upstream_proxy_protocol=haproxy -o smtpd_sasl_auth_enable=yes"
                + $" -o smtpd_sasl_type=dovecot -o smtpd_sasl_path=inet:127.0.0.1:{authPort} -o smtpd_sasl_security_options=noanonymous"
                + " -o smtpd_relay_restrictions=permit_sasl_authenticated,reject -o smtpd_recipient_restrictions=permit_sasl_authenticated,reject"
            : "";
        string settings = string.Join('\n', File.ReadAllLines(Path.Combine(RepoPaths.Root, "eng", "postfix", "main-settings.cf")).Where(l => !l.StartsWith('#')));
        string main = $"""
            queue_directory = {queue}
            data_directory = {data}
            {settings}

            """;
        string services = string.Join('\n', File.ReadAllLines(Path.Combine(RepoPaths.Root, "eng", "postfix", "master-services.cf")).Where(l => !l.StartsWith('#')));
        string master = $"""
            {postscreen} inet n - n - 1 postscreen
            {proxySmtpd} inet n - n - - smtpd -o smtpd_upstream_proxy_protocol=haproxy
            {plainSmtpd} inet n - n - - smtpd
            {submissionService}
            {services}

            """;
        await File.WriteAllTextAsync(Path.Combine(etc, "main.cf"), main);
        await File.WriteAllTextAsync(Path.Combine(etc, "master.cf"), master);
        await RunCheckedAsync(postfix, "-c", etc, "check");
        var process = ChildProcess.Start(postfix, ["-c", etc, "start-fg"], directory, name: "postfix");
        var peer = new PostfixPeer(postfix, directory, process, postscreen, proxySmtpd, plainSmtpd, submission);
        try
        {
            await process.WaitForLineAsync(new Regex("daemon started"), TimeSpan.FromSeconds(15));
            // Only the plain smtpd is probed: a probe on the others would log a PROXY header warning.
            await process.WaitForPortAsync(plainSmtpd);
        }
        catch (Exception e) when (e is TimeoutException or InvalidOperationException)
        {
            string log = peer.Log;
            await peer.DisposeAsync();
            throw new InvalidOperationException($"Postfix did not start: {e.Message}\n--- log ---\n{log}\n--- main.cf ---\n{main}\n--- master.cf ---\n{master}", e);
        }

        return peer;
    }

    public async ValueTask DisposeAsync()
    {
        try
        {
            await ChildProcess.RunAsync(_postfix, "-c", Path.Combine(_directory, "etc"), "stop");
        }
        catch (Exception e) when (e is InvalidOperationException or OperationCanceledException or System.ComponentModel.Win32Exception)
        {
            // Best effort; the kill below still ends start-fg.
        }

        await _process.DisposeAsync();
        TempDirectory.TryDelete(_directory);
    }

    private static async Task RunCheckedAsync(string executable, params string[] arguments)
    {
        var process = ChildProcess.Start(executable, arguments);
        await using (process)
        {
            int code = await process.WaitForExitAsync(TimeSpan.FromSeconds(30));
            if (code != 0)
            {
                throw new InvalidOperationException($"{executable} {string.Join(' ', arguments)} exited with {code}:\n{process.Output}");
            }
        }
    }
}
