using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Text;
using System.Text.RegularExpressions;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Time.Testing;
using ProxyKestrel.Gateway.Tests.Infrastructure;
using Xunit;

namespace ProxyKestrel.Gateway.Tests.Observability;

/// <summary>
/// The access log (category <c>ProxyKestrel.Gateway.AccessLog</c>): one entry per finished connection, its line in
/// HAProxy's <c>option tcplog</c> field order, parsed here with a regular expression of that format, and the same
/// record as structured state. Each termination state is produced for real, on the transport under test.
/// </summary>
public class AccessLogTests
{
    private const string Category = "ProxyKestrel.Gateway.AccessLog";

    /// <summary>
    /// HAProxy's tcplog format (its configuration manual, "TCP log format"): client_ip:client_port [accept_date]
    /// frontend backend/server Tw/Tc/Tt bytes_read termination_state actconn/feconn/beconn/srv_conn/retries
    /// srv_queue/backend_queue.
    /// </summary>
    private static readonly Regex s_tcplog = new(
        @"^(?<client_ip>[0-9A-Fa-f.:]+):(?<client_port>\d+) \[(?<accept_date>\d{2}/[A-Z][a-z]{2}/\d{4}:\d{2}:\d{2}:\d{2}\.\d{3})\] "
        + @"(?<frontend>\S+) (?<backend>[^/ ]+)/(?<server>\S+) (?<tw>-1|\d+)/(?<tc>-1|\d+)/(?<tt>\+?\d+) (?<bytes_read>\+?\d+) "
        + @"(?<termination_state>[-A-Za-z]{2}) (?<actconn>\d+)/(?<feconn>\d+)/(?<beconn>\d+)/(?<srv_conn>\d+)/(?<retries>\+?\d+) "
        + @"(?<srv_queue>\d+)/(?<backend_queue>\d+)$",
        RegexOptions.CultureInvariant);

    private static string Config(string destination, string route = "", string version = "v1", string gateway = "") => $$"""
        {
          "ReverseProxy": { "Clusters": { "c1": {
            "Metadata": { "ProxyProtocol": "{{version}}" },
            "Destinations": { "d1": { "Address": "{{destination}}" } } } } },
          "TcpProxy": { {{gateway}}"Routes": { "r1": { "Listen": "127.0.0.1:0", "ClusterId": "c1"{{route}} } } }
        }
        """;

    [Fact]
    public async Task AccessLog_RelayEndsNormally_TcplogLineWithRouteClusterDestinationTimesBytesAndCounts()
    {
        var logs = new ListLoggerProvider();
        await using var backend = new ProxyBackend();
        await using GatewayHost gateway = await GatewayHost.StartAsync(Config(backend.Address), logger: logs);
        DateTimeOffset before = DateTimeOffset.Now;
        using Socket client = await Net.ConnectAsync(gateway.EndPointOf("r1"), "127.0.0.2");
        int clientPort = ((IPEndPoint)client.LocalEndPoint!).Port;
        await Net.AssertEchoAsync(client, "hello\r\n");
        client.Shutdown(SocketShutdown.Send);
        await Net.AssertEofAsync(client);

        (Match line, IReadOnlyDictionary<string, object?> state) = await EntryAsync(logs);
        Assert.Equal("127.0.0.2", line.Groups["client_ip"].Value);
        Assert.Equal(clientPort.ToString(CultureInfo.InvariantCulture), line.Groups["client_port"].Value);
        DateTimeOffset accepted = DateTimeOffset.ParseExact(line.Groups["accept_date"].Value, "dd/MMM/yyyy:HH:mm:ss.fff", CultureInfo.InvariantCulture, DateTimeStyles.AssumeLocal);
        Assert.InRange(accepted, before.AddSeconds(-1), DateTimeOffset.Now.AddSeconds(1));
        Assert.Equal(("r1", "c1", "d1"), (line.Groups["frontend"].Value, line.Groups["backend"].Value, line.Groups["server"].Value));
        Assert.Equal("0", line.Groups["tw"].Value);
        long connect = long.Parse(line.Groups["tc"].Value, CultureInfo.InvariantCulture);
        long total = long.Parse(line.Groups["tt"].Value, CultureInfo.InvariantCulture);
        Assert.InRange(connect, 0, total);
        Assert.Equal("7", line.Groups["bytes_read"].Value);
        Assert.Equal("--", line.Groups["termination_state"].Value);
        // Counted with the connection itself, as HAProxy does; nothing is queued.
        Assert.Equal("1/1/1/1/0 0/0", $"{line.Groups["actconn"]}/{line.Groups["feconn"]}/{line.Groups["beconn"]}/{line.Groups["srv_conn"]}/{line.Groups["retries"]} {line.Groups["srv_queue"]}/{line.Groups["backend_queue"]}");

        Assert.Equal("127.0.0.2", state["client.address"]);
        Assert.Equal(clientPort, state["client.port"]);
        Assert.Equal(("r1", "c1", "d1"), (state["proxykestrel.route"], state["proxykestrel.cluster"], state["proxykestrel.destination"]));
        Assert.Equal(7L, state["proxykestrel.bytes.to_client"]);
        Assert.Equal(7L, state["proxykestrel.bytes.to_server"]);
        Assert.Equal((0L, connect, total), (state["proxykestrel.time.wait_ms"], state["proxykestrel.time.connect_ms"], state["proxykestrel.time.total_ms"]));
        Assert.Equal("--", state["proxykestrel.termination_state"]);
        Assert.Equal("completed", state["proxykestrel.result"]);
        Assert.Equal("v1", state["proxykestrel.proxy_protocol.version"]);
        Assert.Null(state["proxykestrel.upstream_proxy.address"]);
    }

    [Fact]
    public async Task AccessLog_ClientResetsDuringData_CD()
    {
        var logs = new ListLoggerProvider();
        await using var backend = new ProxyBackend();
        await using GatewayHost gateway = await GatewayHost.StartAsync(Config(backend.Address, version: "v2"), logger: logs);
        using Socket client = await Net.ConnectAsync(gateway.EndPointOf("r1"), "127.0.0.3");
        await Net.AssertEchoAsync(client, "ping\r\n");
        client.LingerState = new LingerOption(true, 0);
        client.Close();

        (Match line, IReadOnlyDictionary<string, object?> state) = await EntryAsync(logs);
        Assert.Equal("CD", line.Groups["termination_state"].Value);
        Assert.Equal("d1", line.Groups["server"].Value);
        Assert.Equal("6", line.Groups["bytes_read"].Value);
        Assert.Equal("reset", state["proxykestrel.result"]);
        Assert.Equal("v2", state["proxykestrel.proxy_protocol.version"]);
    }

    [Fact]
    public async Task AccessLog_BackendResetsDuringData_SD()
    {
        var logs = new ListLoggerProvider();
        await using var backend = new ProxyBackend();
        await using GatewayHost gateway = await GatewayHost.StartAsync(Config(backend.Address), logger: logs);
        using Socket client = await Net.ConnectAsync(gateway.EndPointOf("r1"), "127.0.0.4");
        await Net.AssertEchoAsync(client, "ping\r\n");
        await backend.WaitForConnectionAsync();
        backend.KillConnections();

        (Match line, IReadOnlyDictionary<string, object?> state) = await EntryAsync(logs);
        Assert.Equal("SD", line.Groups["termination_state"].Value);
        Assert.Equal("SD", state["proxykestrel.termination_state"]);
        Assert.Equal("reset", state["proxykestrel.result"]);
    }

    [Fact]
    public async Task AccessLog_DestinationRefuses_SCWithTheServerTriedAndNoConnectTime()
    {
        var logs = new ListLoggerProvider();
        await using GatewayHost gateway = await GatewayHost.StartAsync(Config($"tcp://127.0.0.1:{Net.ClosedPort()}"), logger: logs);
        using Socket client = await Net.ConnectAsync(gateway.EndPointOf("r1"), "127.0.0.5");
        await Net.AssertClosedWithoutDataAsync(client);

        (Match line, IReadOnlyDictionary<string, object?> state) = await EntryAsync(logs);
        Assert.Equal("SC", line.Groups["termination_state"].Value);
        Assert.Equal(("c1", "d1"), (line.Groups["backend"].Value, line.Groups["server"].Value));
        Assert.Equal(("0", "-1", "0"), (line.Groups["tw"].Value, line.Groups["tc"].Value, line.Groups["bytes_read"].Value));
        Assert.Equal("no_destination", state["proxykestrel.result"]);
        Assert.Equal("none", state["proxykestrel.proxy_protocol.version"]);
    }

    [Fact]
    public async Task AccessLog_EveryDestinationTimesOut_sCWithTheRetriesCounted()
    {
        var time = new FakeTimeProvider();
        var logs = new ListLoggerProvider();
        using var silent1 = SilentDestination.Create();
        using var silent2 = SilentDestination.Create();
        string json = $$"""
            {
              "ReverseProxy": { "Clusters": { "c1": { "LoadBalancingPolicy": "FirstAlphabetical",
                "Destinations": { "a": { "Address": "tcp://{{silent1.EndPoint}}" }, "b": { "Address": "tcp://{{silent2.EndPoint}}" } } } } },
              "TcpProxy": { "Routes": { "r1": { "Listen": "127.0.0.1:0", "ClusterId": "c1", "ConnectTimeout": "00:00:02" } } }
            }
            """;
        await using GatewayHost gateway = await GatewayHost.StartAsync(json, services => services.AddSingleton<TimeProvider>(time), logs);
        using var measurements = GatewayMeasurements.Start(gateway);
        using Socket client = await Net.ConnectAsync(gateway.EndPointOf("r1"), "127.0.0.6");
        await Net.WaitUntilAsync(() => measurements.Active("r1") == 1, "the connection counted open");
        // Each connect's deadline counts from the end of the step before it (the accept, then the first failure).
        time.Advance(TimeSpan.FromSeconds(2));
        await Net.WaitUntilAsync(() => logs.Entries.Count(e => e.EventId.Name == "DestinationConnectFailed") == 1, "the first destination given up");
        time.Advance(TimeSpan.FromSeconds(2));

        (Match line, _) = await EntryAsync(logs);
        Assert.Equal("sC", line.Groups["termination_state"].Value);
        Assert.Equal("b", line.Groups["server"].Value);
        Assert.Equal("1", line.Groups["retries"].Value);
        Assert.Equal("-1", line.Groups["tc"].Value);
        Assert.True(long.Parse(line.Groups["tt"].Value, CultureInfo.InvariantCulture) >= 4000, line.Value);
    }

    [Theory]
    [InlineData("00:00:05", "00:01:00", "cD")]
    [InlineData("00:01:00", "00:00:05", "sD")]
    public async Task AccessLog_SideQuietForItsTimeout_cDOrsD(string clientTimeout, string serverTimeout, string expected)
    {
        var time = new FakeTimeProvider();
        var logs = new ListLoggerProvider();
        await using var backend = new ProxyBackend();
        string json = Config(backend.Address, $", \"ClientTimeout\": \"{clientTimeout}\", \"ServerTimeout\": \"{serverTimeout}\"");
        await using GatewayHost gateway = await GatewayHost.StartAsync(json, services => services.AddSingleton<TimeProvider>(time), logs);
        using Socket client = await Net.ConnectAsync(gateway.EndPointOf("r1"), "127.0.0.7");
        await Net.AssertEchoAsync(client, "ping\r\n");

        time.Advance(TimeSpan.FromSeconds(4));
        // Neither side has been quiet for its timeout yet: still relaying.
        await Net.AssertEchoAsync(client, "pong\r\n");
        Assert.DoesNotContain(logs.Entries, e => e.Category == Category);
        time.Advance(TimeSpan.FromSeconds(5));

        (Match line, IReadOnlyDictionary<string, object?> state) = await EntryAsync(logs);
        Assert.Equal(expected, line.Groups["termination_state"].Value);
        Assert.Equal("idle_timeout", state["proxykestrel.result"]);
        await Net.AssertEofAsync(client);
    }

    [Fact]
    public async Task AccessLog_ClientNotInAllowedClients_PRWithoutServer()
    {
        var logs = new ListLoggerProvider();
        await using var backend = new ProxyBackend();
        await using GatewayHost gateway = await GatewayHost.StartAsync(Config(backend.Address, ", \"AllowedClients\": [ \"127.0.0.99/32\" ]"), logger: logs);
        await Net.AssertRefusedAsync(gateway.EndPointOf("r1"), "127.0.0.8");

        (Match line, IReadOnlyDictionary<string, object?> state) = await EntryAsync(logs);
        Assert.Equal("PR", line.Groups["termination_state"].Value);
        Assert.Equal("127.0.0.8", line.Groups["client_ip"].Value);
        Assert.Equal(("<NOSRV>", "-1", "-1"), (line.Groups["server"].Value, line.Groups["tw"].Value, line.Groups["tc"].Value));
        Assert.Equal("0/0/0/0/0", $"{line.Groups["actconn"]}/{line.Groups["feconn"]}/{line.Groups["beconn"]}/{line.Groups["srv_conn"]}/{line.Groups["retries"]}");
        Assert.Equal("client_not_allowed", state["proxykestrel.result"]);
    }

    [Fact]
    public async Task AccessLog_BadUpstreamHeader_PR()
    {
        var logs = new ListLoggerProvider();
        await using var backend = new ProxyBackend();
        string json = Config(backend.Address, ", \"AcceptProxyProtocol\": { \"TrustedNetworks\": [ \"127.0.0.0/8\" ] }");
        await using GatewayHost gateway = await GatewayHost.StartAsync(json, logger: logs);
        using Socket client = await Net.ConnectAsync(gateway.EndPointOf("r1"), "127.0.0.9");
        await Net.SendAllAsync(client, Encoding.ASCII.GetBytes("PROXY TCP4 not-an-address\r\n"));
        await Net.AssertClosedWithoutDataAsync(client);

        (Match line, IReadOnlyDictionary<string, object?> state) = await EntryAsync(logs);
        Assert.Equal("PR", line.Groups["termination_state"].Value);
        Assert.Equal("header_rejected", state["proxykestrel.result"]);
        Assert.Empty(backend.Connections);
    }

    [Fact]
    public async Task AccessLog_MaxConnectionsOpen_RC()
    {
        var logs = new ListLoggerProvider();
        await using var backend = new ProxyBackend();
        await using GatewayHost gateway = await GatewayHost.StartAsync(Config(backend.Address, ", \"MaxConnections\": 1"), logger: logs);
        using Socket first = await Net.ConnectAsync(gateway.EndPointOf("r1"), "127.0.0.10");
        await Net.AssertEchoAsync(first, "one\r\n");
        await Net.AssertRefusedAsync(gateway.EndPointOf("r1"), "127.0.0.11");

        (Match line, IReadOnlyDictionary<string, object?> state) = await EntryAsync(logs);
        Assert.Equal("RC", line.Groups["termination_state"].Value);
        Assert.Equal("127.0.0.11", line.Groups["client_ip"].Value);
        // The open connection is counted on the gateway, the route and the cluster.
        Assert.Equal("1/1/1", $"{line.Groups["actconn"]}/{line.Groups["feconn"]}/{line.Groups["beconn"]}");
        Assert.Equal("max_connections", state["proxykestrel.result"]);
    }

    [Fact]
    public async Task AccessLog_KilledAtTheEndOfTheDrain_KD()
    {
        var time = new FakeTimeProvider();
        var logs = new ListLoggerProvider();
        await using var backend = new ProxyBackend();
        await using GatewayHost gateway = await GatewayHost.StartAsync(
            Config(backend.Address, gateway: "\"DrainTimeout\": \"00:00:01\", "), services => services.AddSingleton<TimeProvider>(time), logs);
        using Socket client = await Net.ConnectAsync(gateway.EndPointOf("r1"), "127.0.0.12");
        await Net.AssertEchoAsync(client, "ping\r\n");

        Task stop = gateway.StopAsync();
        await Net.WaitUntilAsync(() => logs.Entries.Any(e => e.EventId.Name == "Draining"), "the drain started");
        time.Advance(TimeSpan.FromSeconds(1));
        await stop.WaitAsync(Net.Timeout);

        (Match line, IReadOnlyDictionary<string, object?> state) = await EntryAsync(logs);
        Assert.Equal("KD", line.Groups["termination_state"].Value);
        Assert.Equal("6", line.Groups["bytes_read"].Value);
        Assert.Equal("aborted", state["proxykestrel.result"]);
    }

    [Fact]
    public async Task AccessLog_ClientThroughAnUpstreamProxy_LogsTheOriginalClientAndTheProxyAsAField()
    {
        var logs = new ListLoggerProvider();
        await using var backend = new ProxyBackend();
        string json = Config(backend.Address, ", \"AcceptProxyProtocol\": { \"TrustedNetworks\": [ \"127.0.0.0/8\" ] }");
        await using GatewayHost gateway = await GatewayHost.StartAsync(json, logger: logs);
        using Socket proxy = await Net.ConnectAsync(gateway.EndPointOf("r1"), "127.0.0.13");
        int proxyPort = ((IPEndPoint)proxy.LocalEndPoint!).Port;
        await Net.SendAllAsync(proxy, Encoding.ASCII.GetBytes("PROXY TCP4 192.0.2.10 192.0.2.20 40000 25\r\n"));
        await Net.AssertEchoAsync(proxy, "hello\r\n");
        proxy.Shutdown(SocketShutdown.Send);
        await Net.AssertEofAsync(proxy);

        (Match line, IReadOnlyDictionary<string, object?> state) = await EntryAsync(logs);
        Assert.Equal(("192.0.2.10", "40000"), (line.Groups["client_ip"].Value, line.Groups["client_port"].Value));
        Assert.Equal("--", line.Groups["termination_state"].Value);
        Assert.Equal("127.0.0.13", state["proxykestrel.upstream_proxy.address"]);
        Assert.Equal(proxyPort, state["proxykestrel.upstream_proxy.port"]);
        Assert.Equal("192.0.2.10", state["client.address"]);
    }

    [Fact]
    public async Task AccessLog_NoUpstreamHeaderWithinHeaderTimeout_cR()
    {
        var time = new FakeTimeProvider();
        var logs = new ListLoggerProvider();
        await using var backend = new ProxyBackend();
        string json = Config(backend.Address, ", \"AcceptProxyProtocol\": { \"TrustedNetworks\": [ \"127.0.0.0/8\" ], \"HeaderTimeout\": \"00:00:03\" }");
        await using GatewayHost gateway = await GatewayHost.StartAsync(json, services => services.AddSingleton<TimeProvider>(time), logs);
        using var measurements = GatewayMeasurements.Start(gateway);
        using Socket client = await Net.ConnectAsync(gateway.EndPointOf("r1"), "127.0.0.14");
        await Net.WaitUntilAsync(() => measurements.Active("r1") == 1, "the connection counted open");
        time.Advance(TimeSpan.FromSeconds(3));

        (Match line, IReadOnlyDictionary<string, object?> state) = await EntryAsync(logs);
        Assert.Equal("cR", line.Groups["termination_state"].Value);
        Assert.Equal(("-1", "-1", "<NOSRV>"), (line.Groups["tw"].Value, line.Groups["tc"].Value, line.Groups["server"].Value));
        Assert.Equal("header_timeout", state["proxykestrel.result"]);
        Assert.Empty(backend.Connections);
    }

    [Fact]
    public async Task AccessLog_ClientResetsDuringTheSniPeek_CR()
    {
        var logs = new ListLoggerProvider();
        await using var backend = new ProxyBackend();
        string json = $$"""
            {
              "ReverseProxy": { "Clusters": { "c1": {
                "Metadata": { "ProxyProtocol": "v2", "ProxyProtocol.Tlvs": "authority" },
                "Destinations": { "d1": { "Address": "{{backend.Address}}" } } } } },
              "TcpProxy": { "Routes": { "r1": { "Listen": "127.0.0.1:0", "ClusterId": "c1" } } }
            }
            """;
        await using GatewayHost gateway = await GatewayHost.StartAsync(json, logger: logs);
        using var measurements = GatewayMeasurements.Start(gateway);
        using (Socket client = await Net.ConnectAsync(gateway.EndPointOf("r1"), "127.0.0.15"))
        {
            await Net.WaitUntilAsync(() => measurements.Active("r1") == 1, "the connection counted open");
            // A TLS handshake record announcing 512 bytes, of which 4 arrive; then a reset.
            await Net.SendAllAsync(client, new byte[] { 0x16, 0x03, 0x01, 0x02, 0x00, 0x01, 0x00, 0x01, 0xFC });
            client.LingerState = new LingerOption(true, 0);
        }

        (Match line, IReadOnlyDictionary<string, object?> state) = await EntryAsync(logs);
        Assert.Equal("CR", line.Groups["termination_state"].Value);
        Assert.Equal("reset", state["proxykestrel.result"]);
        Assert.Empty(backend.Connections);
    }

    [Theory]
    [InlineData("header", "KR")]
    [InlineData("connect", "KC")]
    public async Task AccessLog_KilledAtTheEndOfTheDrainBeforeTheRelay_KROrKC(string step, string expected)
    {
        var time = new FakeTimeProvider();
        var logs = new ListLoggerProvider();
        using var silent = SilentDestination.Create();
        string route = step == "header"
            ? ", \"AcceptProxyProtocol\": { \"TrustedNetworks\": [ \"127.0.0.0/8\" ], \"HeaderTimeout\": \"00:05:00\" }"
            : ", \"ConnectTimeout\": \"00:10:00\"";
        await using GatewayHost gateway = await GatewayHost.StartAsync(
            Config($"tcp://{silent.EndPoint}", route, gateway: "\"DrainTimeout\": \"00:00:01\", "), services => services.AddSingleton<TimeProvider>(time), logs);
        using var measurements = GatewayMeasurements.Start(gateway);
        using Socket client = await Net.ConnectAsync(gateway.EndPointOf("r1"), "127.0.0.16");
        await Net.WaitUntilAsync(() => measurements.Active("r1") == 1, "the connection counted open");

        Task stop = gateway.StopAsync();
        await Net.WaitUntilAsync(() => logs.Entries.Any(e => e.EventId.Name == "Draining"), "the drain started");
        time.Advance(TimeSpan.FromSeconds(1));
        await stop.WaitAsync(Net.Timeout);

        (Match line, IReadOnlyDictionary<string, object?> state) = await EntryAsync(logs);
        Assert.Equal(expected, line.Groups["termination_state"].Value);
        Assert.Equal("aborted", state["proxykestrel.result"]);
    }

    /// <summary>Waits for the one access-log entry, checks its line parses as tcplog and is the record's own.</summary>
    internal static async Task<(Match Line, IReadOnlyDictionary<string, object?> State)> EntryAsync(ListLoggerProvider logs)
    {
        await Net.WaitUntilAsync(() => logs.Structured.Any(e => e.Category == Category), "the access-log entry");
        var entries = logs.Structured.Where(e => e.Category == Category).ToList();
        var entry = Assert.Single(entries);
        Assert.Equal((113, "AccessLog"), (entry.EventId.Id, entry.EventId.Name));
        Assert.Contains(logs.Entries, e => e.Category == Category && e.Level == Microsoft.Extensions.Logging.LogLevel.Information);
        Match line = s_tcplog.Match(entry.Message);
        Assert.True(line.Success, $"not a tcplog line: {entry.Message}");
        Assert.Equal(line.Groups["termination_state"].Value, entry.State["proxykestrel.termination_state"]);
        Assert.Equal(line.Groups["bytes_read"].Value, Convert.ToString(entry.State["proxykestrel.bytes.to_client"], CultureInfo.InvariantCulture));
        return (line, entry.State);
    }
}
