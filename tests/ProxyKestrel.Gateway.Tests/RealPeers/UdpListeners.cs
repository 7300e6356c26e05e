using System.Diagnostics;
using System.Globalization;

namespace ProxyKestrel.Gateway.Tests.RealPeers;

/// <summary>
/// Readiness of UDP peers read from /proc/net/udp rather than probed: a probe datagram to a port that requires a PROXY
/// header would be logged as a PROXY error that a test could mistake for its own datagram. A bound socket is enough:
/// the kernel queues datagrams until the peer reads them.
/// </summary>
internal static class UdpListeners
{
    private const string LoopbackPrefix = "0100007F:";

    /// <summary>
    /// Waits until each of <paramref name="ports"/> is a UDP socket bound on 127.0.0.1; throws an
    /// <see cref="InvalidOperationException"/> when <paramref name="process"/> exits first, a
    /// <see cref="TimeoutException"/> after <paramref name="timeout"/>.
    /// </summary>
    public static async Task WaitAsync(ChildProcess process, IReadOnlyCollection<int> ports, TimeSpan timeout)
    {
        ArgumentNullException.ThrowIfNull(process);
        ArgumentNullException.ThrowIfNull(ports);
        var deadline = Stopwatch.StartNew();
        while (true)
        {
            if (process.HasExited)
            {
                throw new InvalidOperationException($"{process.Name} exited with {process.SafeExitCode} before binding UDP");
            }

            HashSet<int> bound = await BoundLoopbackPortsAsync();
            int[] missing = [.. ports.Where(p => !bound.Contains(p))];
            if (missing.Length == 0)
            {
                return;
            }

            if (deadline.Elapsed > timeout)
            {
                throw new TimeoutException($"no UDP socket on 127.0.0.1:{string.Join(", ", missing)} within {timeout.TotalSeconds:0} s");
            }

            await Task.Delay(50);
        }
    }

    /// <summary>The ports of the unconnected UDP sockets bound on 127.0.0.1 (UDP has no LISTEN state).</summary>
    public static async Task<HashSet<int>> BoundLoopbackPortsAsync()
    {
        // "  sl  local_address rem_address   st ...": local 0100007F:PORT (127.0.0.1 and the port, in hex), not connected
        // (remote 00000000:0000), so that a client's socket on that port does not count.
        var ports = new HashSet<int>();
        foreach (string line in await File.ReadAllLinesAsync("/proc/net/udp"))
        {
            string[] fields = line.Split(' ', StringSplitOptions.RemoveEmptyEntries);
            if (fields.Length > 2 && fields[1].StartsWith(LoopbackPrefix, StringComparison.Ordinal) && fields[2] == "00000000:0000"
                && int.TryParse(fields[1].AsSpan(LoopbackPrefix.Length), NumberStyles.HexNumber, CultureInfo.InvariantCulture, out int port))
            {
                ports.Add(port);
            }
        }

        return ports;
    }
}
