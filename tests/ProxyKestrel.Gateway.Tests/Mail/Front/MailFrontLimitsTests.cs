using System.Text.RegularExpressions;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Time.Testing;
using ProxyKestrel.Gateway.Tests.Infrastructure;
using ProxyKestrel.Gateway.Tests.Observability;
using ProxyKestrel.Gateway.Tests.RealPeers;

namespace ProxyKestrel.Gateway.Tests.Mail.Front;

/// <summary>
/// The mail front's limits and its end: the login timeout, a line too long, the drain's kill of a connection still
/// logging in, and the access-log line of a login routed by user. On every transport.
/// </summary>
public sealed class MailFrontLimitsTests
{
    private const string Client = "127.0.0.2";

    [Fact]
    public async Task Login_NothingWithinLoginTimeout_ClosedAndCountedLoginTimeout()
    {
        var time = new FakeTimeProvider();
        var logs = new ListLoggerProvider();
        string json = NoBackendConfig(FreePort.Next(), """ "LoginTimeout": "00:00:30", """);
        await using GatewayHost gateway = await GatewayHost.StartAsync(json, services => services.AddSingleton<TimeProvider>(time), logs);
        using var measurements = GatewayMeasurements.Start(gateway);
        await using MailTestClient client = await MailTestClient.ConnectAsync(Client, gateway.EndPointOf("imap").Port);
        Assert.StartsWith("* OK ", await client.ReadLineAsync(), StringComparison.Ordinal);
        await Net.WaitUntilAsync(() => measurements.Active("imap") == 1, "the connection counted open");

        time.Advance(TimeSpan.FromSeconds(29));
        await Task.Delay(100);
        Assert.Empty(measurements.Results("imap"));
        // The wait may have started after the first advance: move on until it ends (it counts from the greeting).
        await Net.WaitUntilAsync(
            () =>
            {
                time.Advance(TimeSpan.FromSeconds(1));
                return measurements.Results("imap").Count > 0;
            },
            "the login timeout");

        Assert.Null(await client.ReadLineAsync());
        Assert.Equal(["login_timeout"], measurements.Results("imap"));
        Assert.Single(logs.Entries, e => e.EventId.Name == "MailLoginTimeout");
    }

    [Fact]
    public async Task Login_LineLongerThanMaxLineLength_ByeClosedAndCountedLoginFailed()
    {
        await using GatewayHost gateway = await GatewayHost.StartAsync(NoBackendConfig(FreePort.Next(), """ "MaxLineLength": 512, """));
        using var measurements = GatewayMeasurements.Start(gateway);
        await using MailTestClient client = await MailTestClient.ConnectAsync(Client, gateway.EndPointOf("imap").Port);
        await client.ReadLineAsync();

        await client.SendLineAsync("a1 LOGIN " + new string('x', 600) + " pw");

        Assert.Equal("* BYE Line too long", await client.ReadLineAsync());
        Assert.Null(await client.ReadLineAsync());
        await Net.WaitUntilAsync(() => measurements.Results("imap").Count == 1, "the end counted");
        Assert.Equal(["login_failed"], measurements.Results("imap"));
    }

    [Fact]
    public async Task Stop_DrainTimeoutWhileMailClientLogsIn_ClosedAndCountedAborted()
    {
        var time = new FakeTimeProvider();
        var logs = new ListLoggerProvider();
        string json = NoBackendConfig(FreePort.Next(), "").Replace("\"TcpProxy\": {", "\"TcpProxy\": { \"DrainTimeout\": \"00:00:01\",", StringComparison.Ordinal);
        await using GatewayHost gateway = await GatewayHost.StartAsync(json, services => services.AddSingleton<TimeProvider>(time), logs);
        using var measurements = GatewayMeasurements.Start(gateway);
        await using MailTestClient client = await MailTestClient.ConnectAsync(Client, gateway.EndPointOf("imap").Port);
        await client.ReadLineAsync();
        await Net.WaitUntilAsync(() => measurements.Active("imap") == 1, "the connection counted open");

        Task stop = gateway.StopAsync();
        await Net.WaitUntilAsync(() => logs.Entries.Any(e => e.EventId.Name == "Draining"), "the drain started");
        time.Advance(TimeSpan.FromSeconds(1));

        Assert.Null(await client.ReadLineAsync());
        await stop.WaitAsync(Net.Timeout);
        Assert.Equal(["aborted"], measurements.Results("imap"));
    }

    [Fact]
    public async Task AccessLog_LoginRoutedByUser_LineNamesTheRouteTheUsersClusterAndTheServer()
    {
        var logs = new ListLoggerProvider();
        await using DovecotPeer imap1 = await DovecotPeer.StartAsync("front-log1", [("alice", "alice-pw", null)]);
        await using DovecotPeer imap2 = await DovecotPeer.StartAsync("front-log2", [("nina", "nina-pw", null)]);
        await using GatewayHost gateway = await GatewayHost.StartAsync(MailFrontConfig.Imap(FreePort.Next(), imap1, imap2), logger: logs);
        await using (MailTestClient nina = await MailTestClient.ConnectAsync(Client, gateway.EndPointOf("imap").Port))
        {
            await nina.ReadLineAsync();
            await nina.CommandAsync("b1 LOGIN nina nina-pw", "b1 ");
            await nina.CommandAsync("b2 LOGOUT", "b2 ");
        }

        (Match line, IReadOnlyDictionary<string, object?> state) = await AccessLogTests.EntryAsync(logs);

        Assert.Equal(("imap", "mail2", "d", "--"), (line.Groups["frontend"].Value, line.Groups["backend"].Value, line.Groups["server"].Value, line.Groups["termination_state"].Value));
        Assert.Equal(("imap", "mail2"), (state["proxykestrel.route"], state["proxykestrel.cluster"]));
        Assert.DoesNotContain(logs.Entries, e => e.Message.Contains("nina-pw", StringComparison.Ordinal));
    }

    /// <summary>An IMAP route whose clusters are never reached (the tests end before any login).</summary>
    private static string NoBackendConfig(int port, string keys) => $$"""
        {
          "ReverseProxy": { "Clusters": {
            "mail1": { "Metadata": { "ProxyProtocol": "v2" }, "Destinations": { "d": { "Address": "tcp://127.0.0.1:{{FreePort.Next()}}" } } } } },
          "TcpProxy": { "Routes": {
            "imap": { "Listen": "127.0.0.1:{{port}}", "Protocol": "Imap", "ClusterId": "mail1", {{keys}} "AllowPlaintextLogin": true } } }
        }
        """;
}
