using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Text;
using System.Text.Json.Nodes;
using ProxyKestrel.Gateway.Tests.Infrastructure;
using ProxyKestrel.Gateway.Tests.Observability;
using Xunit.Abstractions;

namespace ProxyKestrel.Gateway.Tests.Reliability;

/// <summary>
/// Slowloris against a gateway TCP route with <c>AcceptProxyProtocol</c> (samples/Gateway as a child process):
/// connections that stop mid-header and connections that send nothing are each closed at HeaderTimeout (within 10 %,
/// measured per connection from its last byte sent to the close), while a well-behaved client (real PROXY header,
/// relayed to a backend that checks the client address) keeps its p99 within 2× its baseline from the same run; the
/// gateway's RSS per stalled connection is reported and its descriptors come back.
/// </summary>
[Trait("Category", "Reliability")]
[Collection(TimingSensitive.Name)]
public class SlowlorisTests(ITestOutputHelper output)
{
    private const string Command =
        "PROXYKESTREL_RELIABILITY=full dotnet test tests/ProxyKestrel.Gateway.Tests -c Release --filter \"Category=Reliability&FullyQualifiedName~SlowlorisTests\"";

    private static readonly byte[] WellBehavedRequest = Encoding.ASCII.GetBytes("PROXY TCP4 203.0.113.7 198.51.100.1 40000 25\r\nping\n");

    [Fact]
    public async Task Slowloris_StalledHeadersAgainstAcceptProxyProtocolRoute_ClosedAtHeaderTimeoutWhileWellBehavedClientKeepsItsLatency()
    {
        int partial = ReliabilityScale.Pick(100, 5_000);
        int silent = ReliabilityScale.Pick(100, 5_000);
        // Full scale: 10 s so that all 10,000 are held at once (opening them takes a few seconds) for the RSS figure.
        TimeSpan headerTimeout = ReliabilityScale.Pick(TimeSpan.FromSeconds(3), TimeSpan.FromSeconds(10));
        TimeSpan baselineFor = ReliabilityScale.Pick(TimeSpan.FromSeconds(2), TimeSpan.FromSeconds(4));

        using var backend = new SlowlorisBackend();
        JsonObject config = ObservedGateway.Config(backend.Port, new JsonObject
        {
            ["slow"] = new JsonObject
            {
                ["Listen"] = "127.0.0.1:0",
                ["ClusterId"] = "backend",
                ["AcceptProxyProtocol"] = new JsonObject { ["HeaderTimeout"] = headerTimeout.ToString("c", CultureInfo.InvariantCulture) },
            },
        });
        config["ReverseProxy"]!["Clusters"]!["backend"]!["Metadata"] = new JsonObject { ["ProxyProtocol"] = "v1" };
        await using ObservedGateway gateway = await ObservedGateway.StartAsync(config, "slow");
        int pid = gateway.ProcessId;
        var server = new IPEndPoint(IPAddress.Loopback, gateway.RoutePorts["slow"]);

        SlowlorisScenario run = await SlowlorisScenario.RunAsync(
            pid, server, WellBehaved, partial, silent, headerTimeout, baselineFor,
            activeConnections: async () =>
            {
                (_, string holding) = await gateway.GetAdminAsync("/metrics");
                return SlowlorisScenario.SumSeries(holding, "proxykestrel_tcp_active_connections{", "proxykestrel_route=\"slow\"");
            },
            countedTimeouts: async total =>
            {
                string metrics = await gateway.ScrapeUntilAsync(text =>
                    SlowlorisScenario.SumSeries(text, "proxykestrel_tcp_connection_duration_seconds_count{", "proxykestrel_result=\"header_timeout\"") >= total);
                return SlowlorisScenario.SumSeries(metrics, "proxykestrel_tcp_connection_duration_seconds_count{", "proxykestrel_result=\"header_timeout\"");
            },
            who: "gateway",
            timeoutsName: "header timeouts");
        output.WriteLine(run.Details);

        bool passed = run.Passed && backend.Unexpected == 0;
        if (!passed)
        {
            // The gateway's own account (slow loop turns, event 153, among others) for whoever reads the failure.
            output.WriteLine("gateway output:\n" + gateway.Output);
        }

        ReliabilityResults.Append("hostile", "slowloris-gateway",
            "Slowloris against a gateway TCP route with AcceptProxyProtocol: mid-header and silent connections closed at HeaderTimeout",
            inputs: null, connections: run.Total, bytesVerified: null, faults: null,
            lost: run.Lost, corrupted: 0, spoofed: backend.Unexpected, run.Details, Command, passed);

        run.Assert("gateway", () => Assert.Equal(0, backend.Unexpected));
    }

    private static bool WellBehaved(Socket socket)
    {
        socket.Send(WellBehavedRequest);
        return Encoding.ASCII.GetString(SlowlorisProbe.ReadToEnd(socket)) == "pong 203.0.113.7\n";
    }
}

/// <summary>
/// The well-behaved client's backend, on a dedicated thread: reads the gateway's v1 header and "ping\n", answers
/// "pong {client address from the header}\n" and closes. Anything else (a stalled client reaching it) counts as unexpected.
/// </summary>
internal sealed class SlowlorisBackend : IDisposable
{
    private readonly TcpListener _listener = new(IPAddress.Loopback, 0);
    private readonly Thread _thread;
    private int _unexpected;

    public SlowlorisBackend()
    {
        _listener.Start(512);
        _thread = new Thread(Run) { IsBackground = true, Name = "slowloris-backend" };
        _thread.Start();
    }

    public int Port => ((IPEndPoint)_listener.LocalEndpoint).Port;

    /// <summary>Connections that did not bring a v1 header from 203.0.113.7 and "ping".</summary>
    public int Unexpected => Volatile.Read(ref _unexpected);

    public void Dispose()
    {
        _listener.Stop();
        _thread.Join(TimeSpan.FromSeconds(10));
    }

    private void Run()
    {
        byte[] buffer = new byte[1024];
        for (int i = 0; i < 10_000_000; i++)
        {
            Socket socket;
            try
            {
                socket = _listener.AcceptSocket();
            }
            catch (Exception e) when (e is SocketException or ObjectDisposedException or InvalidOperationException)
            {
                return;
            }

            using (socket)
            {
                try
                {
                    socket.ReceiveTimeout = 5000;
                    socket.NoDelay = true;
                    int filled = 0;
                    while (filled < buffer.Length && !EndsWithPing(buffer, filled))
                    {
                        int read = socket.Receive(buffer, filled, buffer.Length - filled, SocketFlags.None);
                        if (read == 0)
                        {
                            break;
                        }

                        filled += read;
                    }

                    string text = Encoding.ASCII.GetString(buffer, 0, filled);
                    string[] header = text.Split("\r\n")[0].Split(' ');
                    if (header.Length == 6 && header[0] == "PROXY" && header[2] == "203.0.113.7" && text.EndsWith("\r\nping\n", StringComparison.Ordinal))
                    {
                        socket.Send(Encoding.ASCII.GetBytes($"pong {header[2]}\n"));
                    }
                    else
                    {
                        Interlocked.Increment(ref _unexpected);
                    }

                    socket.Shutdown(SocketShutdown.Both);
                }
                catch (SocketException)
                {
                    Interlocked.Increment(ref _unexpected);
                }
            }
        }
    }

    private static bool EndsWithPing(byte[] buffer, int filled) =>
        filled >= 5 && buffer.AsSpan(filled - 5, 5).SequenceEqual("ping\n"u8);
}
