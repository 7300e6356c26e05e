using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Text.Json.Nodes;

namespace ProxyKestrel.Gateway.Tests.Observability;

/// <summary>
/// SIGTERM on the real samples/Gateway process: /readyz turns 503 at once, the TCP listeners stop accepting, open
/// connections drain up to TcpProxy:DrainTimeout, then the process exits with code 0.
/// </summary>
[Collection(ProxyKestrel.Gateway.Tests.Infrastructure.TimingSensitive.Name)]
public class GracefulShutdownTests
{
    [Fact]
    public async Task Sigterm_NotReadyAndRefusesNewConnections_OpenConnectionDrains_ExitsZero()
    {
        await using var backend = new EchoBackend();
        JsonObject config = ObservedGateway.Config(backend.Port, new JsonObject { ["echo"] = ObservedGateway.Route() }, "00:00:30");
        await using ObservedGateway gateway = await ObservedGateway.StartAsync(config, "echo");
        int port = gateway.RoutePorts["echo"];

        Assert.Equal((HttpStatusCode.OK, "alive\n"), await gateway.GetAdminAsync("/healthz"));
        Assert.Equal((HttpStatusCode.OK, "ready\n"), await gateway.GetAdminAsync("/readyz"));
        using Socket open = await Tcp.ConnectAsync(port);
        Assert.Equal("hello", await Tcp.EchoAsync(open, "hello"));

        // Started before the signal: the time to start `kill` and read its output would otherwise count against the drain.
        var sinceSigterm = Stopwatch.StartNew();
        await gateway.SendSigtermAsync();

        // Readiness turns false as soon as the signal is handled (the admin listener stays up while the TCP
        // connections drain). The signal is delivered asynchronously, so allow the process a moment to see it.
        (HttpStatusCode status, string body) = await gateway.GetAdminAsync("/readyz");
        while (status == HttpStatusCode.OK && sinceSigterm.Elapsed < TimeSpan.FromSeconds(3))
        {
            await Task.Delay(20);
            (status, body) = await gateway.GetAdminAsync("/readyz");
        }

        Assert.True(status == HttpStatusCode.ServiceUnavailable, $"{status} {body} after {sinceSigterm.Elapsed}\n{gateway.Output}");
        Assert.Contains("shutting down", body, StringComparison.Ordinal);

        // The listener stops accepting: new connections are refused.
        await AssertRefusedSoonAsync(port, gateway);

        // The open connection still relays, then ends; the process exits 0 without waiting for the drain timeout.
        Assert.Equal("still there", await Tcp.EchoAsync(open, "still there"));
        Assert.Equal(HttpStatusCode.ServiceUnavailable, (await gateway.GetAdminAsync("/readyz")).Status);
        open.Shutdown(SocketShutdown.Send);
        Assert.True(await Tcp.ClosedByPeerAsync(open, TimeSpan.FromSeconds(5)), gateway.Output);
        open.Close();

        int exitCode = await gateway.Process.WaitForExitAsync(TimeSpan.FromSeconds(28));
        Assert.True(exitCode == 0, $"exit code {exitCode}\n{gateway.Output}");
        Assert.True(sinceSigterm.Elapsed < TimeSpan.FromSeconds(25), $"exited after {sinceSigterm.Elapsed}\n{gateway.Output}");
    }

    [Fact]
    public async Task Sigterm_ConnectionStaysOpen_ClosedAfterDrainTimeout_ExitsZero()
    {
        await using var backend = new EchoBackend();
        JsonObject config = ObservedGateway.Config(backend.Port, new JsonObject { ["echo"] = ObservedGateway.Route() }, "00:00:03");
        await using ObservedGateway gateway = await ObservedGateway.StartAsync(config, "echo");
        int port = gateway.RoutePorts["echo"];
        using Socket open = await Tcp.ConnectAsync(port);
        Assert.Equal("hello", await Tcp.EchoAsync(open, "hello"));

        // Started before the signal: the time to start `kill` and read its output would otherwise count against the drain.
        var sinceSigterm = Stopwatch.StartNew();
        await gateway.SendSigtermAsync();

        // Still relaying during the drain...
        await Task.Delay(TimeSpan.FromSeconds(1));
        Assert.Equal("draining", await Tcp.EchoAsync(open, "draining"));

        // ...closed by the gateway when DrainTimeout ends, and the process exits 0.
        Assert.True(await Tcp.ClosedByPeerAsync(open, TimeSpan.FromSeconds(10)), gateway.Output);
        int exitCode = await gateway.Process.WaitForExitAsync(TimeSpan.FromSeconds(15));
        TimeSpan elapsed = sinceSigterm.Elapsed;
        Assert.True(exitCode == 0, $"exit code {exitCode}\n{gateway.Output}");
        Assert.True(elapsed >= TimeSpan.FromSeconds(2.5) && elapsed < TimeSpan.FromSeconds(12), $"exited after {elapsed}\n{gateway.Output}");
        Assert.Contains("waiting up to 00:00:03 for 1 open connection(s)", gateway.Output, StringComparison.Ordinal);
    }

    private static async Task AssertRefusedSoonAsync(int port, ObservedGateway gateway)
    {
        var deadline = Stopwatch.StartNew();
        while (true)
        {
            try
            {
                using Socket probe = await Tcp.ConnectAsync(port);
                probe.Close();
            }
            catch (SocketException e) when (e.SocketErrorCode is SocketError.ConnectionRefused or SocketError.ConnectionReset)
            {
                // Refused by a closed port, or reset because the listening socket closed while this SYN was in its
                // backlog: either way the gateway did not accept the connection.
                return;
            }

            Assert.True(deadline.Elapsed < TimeSpan.FromSeconds(10), $"new connections still accepted after SIGTERM\n{gateway.Output}");
            await Task.Delay(50);
        }
    }
}
