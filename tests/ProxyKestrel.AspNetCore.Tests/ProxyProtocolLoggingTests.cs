using System.Net;
using System.Net.Sockets;
using System.Text;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Time.Testing;
using ProxyKestrel.AspNetCore.Tests.Infrastructure;
using static ProxyKestrel.AspNetCore.Tests.Infrastructure.ConnectionProbe;

namespace ProxyKestrel.AspNetCore.Tests;

/// <summary>Each rejection path writes exactly one log entry, with its stable event id and the peer's address, and nothing to the peer.</summary>
public sealed class ProxyProtocolLoggingTests
{
    private const string Category = "ProxyKestrel.AspNetCore.ProxyProtocol";
    private static readonly IPEndPoint Client = new(IPAddress.Parse("203.0.113.7"), 51234);
    private static readonly IPEndPoint Server = new(IPAddress.Parse("198.51.100.1"), 443);

    /// <summary>The middleware's entries that name <paramref name="peer"/> (address and port: this connection only).</summary>
    private static Task<IReadOnlyList<CapturedLog>> EntriesForAsync(CapturingLoggerProvider logs, EndPoint peer) =>
        logs.WaitForAsync(e => e.Category == Category && e.Message.Contains(peer.ToString()!, StringComparison.Ordinal), TimeSpan.FromSeconds(5));

    private static void AssertSingle(IReadOnlyList<CapturedLog> entries, int id, string name, LogLevel level, string address)
    {
        CapturedLog entry = Assert.Single(entries);
        Assert.Equal(id, entry.EventId.Id);
        Assert.Equal(name, entry.EventId.Name);
        Assert.Equal(level, entry.Level);
        Assert.Contains(address, entry.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task InvalidHeader_OneHeaderRejectedEntry_NothingWritten()
    {
        var logs = new CapturingLoggerProvider();
        await using TestHost host = await TestHost.StartAsync(logger: logs);
        (Socket socket, bool connected) = await ConnectFromAsync(host.Port, "127.0.0.3");
        using (socket)
        {
            EndPoint peer = socket.LocalEndPoint!;
            Assert.True(connected);
            await SendIgnoringResetAsync(socket, Encoding.ASCII.GetBytes("GET / HTTP/1.1\r\nHost: test\r\n\r\n"));
            await AssertClosedWithNothingWrittenAsync(socket);

            AssertSingle(await EntriesForAsync(logs, peer), 2, "HeaderRejected", LogLevel.Warning, "127.0.0.3");
        }
    }

    [Fact]
    public async Task UntrustedPeer_OneUntrustedPeerRejectedEntry_NothingWritten()
    {
        var logs = new CapturingLoggerProvider();
        await using TestHost host = await TestHost.StartAsync(o => o.TrustedNetworks = ["127.0.0.1/32"], logger: logs);
        (Socket socket, bool connected) = await ConnectFromAsync(host.Port, "127.0.0.2");
        using (socket)
        {
            EndPoint peer = socket.LocalEndPoint!;
            if (connected)
            {
                await SendIgnoringResetAsync(socket, Concat(V1(Client, Server), RawHttpClient.GetRoot));
                await AssertClosedWithNothingWrittenAsync(socket);
            }

            AssertSingle(await EntriesForAsync(logs, peer), 4, "UntrustedPeerRejected", LogLevel.Warning, "127.0.0.2");
        }
    }

    [Fact]
    public async Task StallMidHeader_OneHeaderTimeoutEntry_NothingWritten()
    {
        var time = new FakeTimeProvider();
        var logs = new CapturingLoggerProvider();
        await using TestHost host = await TestHost.StartAsync(time: time, logger: logs);
        (Socket socket, bool connected) = await ConnectFromAsync(host.Port, "127.0.0.4");
        using (socket)
        {
            EndPoint peer = socket.LocalEndPoint!;
            Assert.True(connected);
            await socket.SendAsync(V2(Client, Server).AsMemory(0, 10));

            await AdvanceUntilClosedAsync(socket, time);

            AssertSingle(await EntriesForAsync(logs, peer), 3, "HeaderTimeout", LogLevel.Warning, "127.0.0.4");
        }
    }

    [Fact]
    public async Task ClosedMidHeader_OneClosedBeforeHeaderEntry_NothingWritten()
    {
        var logs = new CapturingLoggerProvider();
        await using TestHost host = await TestHost.StartAsync(logger: logs);
        (Socket socket, bool connected) = await ConnectFromAsync(host.Port, "127.0.0.5");
        using (socket)
        {
            EndPoint peer = socket.LocalEndPoint!;
            Assert.True(connected);
            await socket.SendAsync(V2(Client, Server).AsMemory(0, 10));
            socket.Shutdown(SocketShutdown.Send);
            await AssertClosedWithNothingWrittenAsync(socket);

            AssertSingle(await EntriesForAsync(logs, peer), 6, "ClosedBeforeHeader", LogLevel.Information, "127.0.0.5");
        }
    }

    [Fact]
    public async Task ValidHeader_OneHeaderAcceptedEntryWithProxyAndClient()
    {
        var logs = new CapturingLoggerProvider();
        await using TestHost host = await TestHost.StartAsync(logger: logs);
        (Socket socket, bool connected) = await ConnectFromAsync(host.Port, "127.0.0.6");
        using (socket)
        {
            EndPoint peer = socket.LocalEndPoint!;
            Assert.True(connected);
            await socket.SendAsync(Concat(V2(Client, Server), RawHttpClient.GetRoot));
            Assert.Equal(Client.ToString(), TestHost.ParseSingle(await RawHttpClient.ReadToEndAsync(socket, Safety))["remote"]);

            IReadOnlyList<CapturedLog> entries = await EntriesForAsync(logs, peer);
            AssertSingle(entries, 1, "HeaderAccepted", LogLevel.Debug, "127.0.0.6");
            Assert.Contains(Client.ToString(), entries[0].Message, StringComparison.Ordinal);
        }
    }
}
