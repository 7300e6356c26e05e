using System.Text.RegularExpressions;

namespace ProxyKestrel.Gateway.Tests.RealPeers;

/// <summary>Waiting for a line in a real peer's captured stdout/stderr, with the log so far in the failure.</summary>
internal static class PeerLog
{
    /// <summary>
    /// Waits for a line of <paramref name="process"/> containing <paramref name="substring"/> (already logged or to
    /// come) and returns it; throws an <see cref="InvalidOperationException"/> naming <paramref name="peer"/>, with the
    /// log so far, when none comes within <paramref name="timeout"/> or the process exits.
    /// </summary>
    public static async Task<string> WaitForLineAsync(ChildProcess process, string peer, string substring, TimeSpan timeout)
    {
        ArgumentNullException.ThrowIfNull(process);
        ArgumentException.ThrowIfNullOrEmpty(substring);
        try
        {
            Match line = await process.WaitForLineAsync(new Regex("^.*" + Regex.Escape(substring) + ".*$"), timeout);
            return line.Value;
        }
        catch (Exception e) when (e is TimeoutException or InvalidOperationException)
        {
            throw new InvalidOperationException($"{peer} did not log '{substring}' within {timeout.TotalSeconds:0.#} s:\n{process.Output}", e);
        }
    }
}
