using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Text;
using Xunit.Abstractions;

namespace ProxyKestrel.AspNetCore.Tests.Reliability;

/// <summary>Reliability tests that hold thousands of sockets or measure time run alone.</summary>
[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class SlowlorisSerial
{
    public const string Name = "Serial (slowloris, reliability)";
}

/// <summary>
/// Slowloris against the middleware (samples/WebApp as a child process): connections that stop mid-header and
/// connections that send nothing are each closed at HeaderTimeout (within 10 %, measured per connection from its
/// last byte sent to the close), while a well-behaved client keeps getting answers with p99 no worse than 2× its
/// baseline from the same run; the server's RSS per stalled connection is reported, its descriptors come back.
/// </summary>
[Trait("Category", "Reliability")]
[Collection(SlowlorisSerial.Name)]
public class SlowlorisTests(ITestOutputHelper output)
{
    private const string Command =
        "PROXYKESTREL_RELIABILITY=full dotnet test tests/ProxyKestrel.AspNetCore.Tests -c Release --filter \"Category=Reliability&FullyQualifiedName~SlowlorisTests\"";

    private static readonly byte[] WellBehavedRequest = Encoding.ASCII.GetBytes(
        "PROXY TCP4 203.0.113.7 192.0.2.1 51234 443\r\nGET / HTTP/1.1\r\nHost: test\r\nConnection: close\r\n\r\n");

    [Fact]
    public async Task Slowloris_StalledHeadersAgainstWebApp_ClosedAtHeaderTimeoutWhileWellBehavedClientKeepsItsLatency()
    {
        int partial = ReliabilityScale.Pick(100, 5_000);
        int silent = ReliabilityScale.Pick(100, 5_000);
        // Full scale: 10 s so that all 10,000 are held at once (opening them takes a few seconds) for the RSS figure.
        TimeSpan headerTimeout = ReliabilityScale.Pick(TimeSpan.FromSeconds(3), TimeSpan.FromSeconds(10));
        TimeSpan baselineFor = ReliabilityScale.Pick(TimeSpan.FromSeconds(2), TimeSpan.FromSeconds(4));
        string marker = "--Slowloris:Run=" + Guid.NewGuid().ToString("N");

        await using WebAppProcess app = await WebAppProcess.StartAsync(
        [
            "--ProxyProtocol:HeaderTimeout=" + headerTimeout.ToString("c", CultureInfo.InvariantCulture),
            "--Logging:LogLevel:Default=Warning",
            "--Logging:LogLevel:ProxyKestrel=Warning",
            "--Logging:LogLevel:Microsoft.Hosting.Lifetime=Information",
            marker,
        ]);
        int pid = SlowlorisProcfs.FindProcess(marker);
        var server = new IPEndPoint(IPAddress.Loopback, app.Port);

        SlowlorisScenario run = await SlowlorisScenario.RunAsync(
            pid, server, WellBehaved, partial, silent, headerTimeout, baselineFor,
            activeConnections: async () => SlowlorisScenario.SumSeries(await ScrapeAsync(app.Port), "kestrel_active_connections{", ""),
            countedTimeouts: async _ => SlowlorisScenario.SumSeries(await ScrapeAsync(app.Port), "proxykestrel_proxy_protocol_connections_total{", "error_type=\"timeout\""),
            who: "server",
            timeoutsName: "timeouts");
        output.WriteLine(run.Details);

        ReliabilityResults.Append("hostile", "slowloris-webapp",
            "Slowloris against the middleware (samples/WebApp): mid-header and silent connections closed at HeaderTimeout",
            inputs: null, connections: run.Total, bytesVerified: null, faults: null,
            lost: run.Lost, corrupted: 0, spoofed: null, run.Details, Command, run.Passed);

        run.Assert("server");
    }

    private static bool WellBehaved(Socket socket)
    {
        socket.Send(WellBehavedRequest);
        string response = Encoding.ASCII.GetString(SlowlorisProbe.ReadToEnd(socket));
        return response.StartsWith("HTTP/1.1 200", StringComparison.Ordinal)
            && response.Contains("\"remoteIp\":\"203.0.113.7\"", StringComparison.Ordinal);
    }

    /// <summary>GET /metrics through a connection that starts with a PROXY header (the middleware guards every endpoint).</summary>
    private static async Task<string> ScrapeAsync(int port)
    {
        using var handler = new SocketsHttpHandler
        {
            ConnectCallback = async (context, cancel) =>
            {
                var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
                try
                {
                    await socket.ConnectAsync(new IPEndPoint(IPAddress.Loopback, port), cancel);
                    await socket.SendAsync("PROXY TCP4 203.0.113.8 192.0.2.1 51235 443\r\n"u8.ToArray(), SocketFlags.None, cancel);
                    return new NetworkStream(socket, ownsSocket: true);
                }
                catch
                {
                    socket.Dispose();
                    throw;
                }
            },
        };
        using var client = new HttpClient(handler) { Timeout = TimeSpan.FromSeconds(20) };
        return await client.GetStringAsync(new Uri($"http://127.0.0.1:{port}/metrics"));
    }
}
