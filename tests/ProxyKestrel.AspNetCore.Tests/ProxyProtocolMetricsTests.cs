using System.Globalization;
using System.Net;
using System.Net.Sockets;
using Microsoft.Extensions.Time.Testing;
using ProxyKestrel.AspNetCore.Tests.Infrastructure;
using static ProxyKestrel.AspNetCore.Tests.Infrastructure.ConnectionProbe;

namespace ProxyKestrel.AspNetCore.Tests;

/// <summary>The connections counter and the header-duration histogram, read from the application's own meter.</summary>
public sealed class ProxyProtocolMetricsTests
{
    private const string Connections = "proxykestrel.proxy_protocol.connections";
    private const string Duration = "proxykestrel.proxy_protocol.header.duration";
    private static readonly IPEndPoint Client = new(IPAddress.Parse("203.0.113.7"), 51234);
    private static readonly IPEndPoint Server = new(IPAddress.Parse("198.51.100.1"), 443);

    [Theory]
    [InlineData(1)]
    [InlineData(2)]
    public async Task Accepted_CounterAndDurationWithVersionAndCommand(int version)
    {
        await using TestHost host = await TestHost.StartAsync();
        using var recorder = new MeasurementRecorder(host.App.Services);
        byte[] header = version == 1 ? V1(Client, Server) : V2(Client, Server);

        string raw = await RawHttpClient.ExchangeAsync(host.Port, "127.0.0.1", Safety, Concat(header, RawHttpClient.GetRoot));
        Assert.Equal(Client.ToString(), TestHost.ParseSingle(raw)["remote"]);

        RecordedMeasurement count = Assert.Single(await recorder.WaitForAsync(Connections, 1, Safety));
        Assert.Equal(1, count.Value);
        Assert.Equal("accepted", count.Tag("proxy_protocol.outcome"));
        Assert.Equal(version.ToString(CultureInfo.InvariantCulture), count.Tag("proxy_protocol.version"));
        Assert.Equal("proxy", count.Tag("proxy_protocol.command"));
        Assert.Null(count.Tag("error.type"));

        RecordedMeasurement duration = Assert.Single(await recorder.WaitForAsync(Duration, 1, Safety));
        Assert.True(duration.Value >= 0, $"duration {duration.Value}");
        Assert.Equal("accepted", duration.Tag("proxy_protocol.outcome"));
        Assert.Equal(version.ToString(CultureInfo.InvariantCulture), duration.Tag("proxy_protocol.version"));
    }

    [Fact]
    public async Task UntrustedPeer_RejectedWithUntrustedPeerErrorType()
    {
        await using TestHost host = await TestHost.StartAsync(o => o.TrustedNetworks = ["127.0.0.1/32"]);
        using var recorder = new MeasurementRecorder(host.App.Services);
        (Socket socket, bool connected) = await ConnectFromAsync(host.Port, "127.0.0.2");
        using (socket)
        {
            if (connected)
            {
                await SendIgnoringResetAsync(socket, Concat(V1(Client, Server), RawHttpClient.GetRoot));
                await AssertClosedWithNothingWrittenAsync(socket);
            }
        }

        RecordedMeasurement count = Assert.Single(await recorder.WaitForAsync(Connections, 1, Safety));
        Assert.Equal(1, count.Value);
        Assert.Equal("rejected", count.Tag("proxy_protocol.outcome"));
        Assert.Equal("untrusted_peer", count.Tag("error.type"));
    }

    [Fact]
    public async Task StallMidHeader_RejectedWithTimeoutErrorTypeAndDurationOfTheTimeout()
    {
        var time = new FakeTimeProvider();
        await using TestHost host = await TestHost.StartAsync(time: time);
        using var recorder = new MeasurementRecorder(host.App.Services);
        using Socket socket = await RawHttpClient.ConnectAsync(host.Port);
        await socket.SendAsync(V2(Client, Server).AsMemory(0, 10));

        await AdvanceUntilClosedAsync(socket, time);

        RecordedMeasurement count = Assert.Single(await recorder.WaitForAsync(Connections, 1, Safety));
        Assert.Equal("rejected", count.Tag("proxy_protocol.outcome"));
        Assert.Equal("timeout", count.Tag("error.type"));
        RecordedMeasurement duration = Assert.Single(await recorder.WaitForAsync(Duration, 1, Safety));
        Assert.Equal("timeout", duration.Tag("error.type"));
        Assert.True(duration.Value >= 5, $"duration {duration.Value} s, expected at least the 5 s header timeout (fake clock)");
    }

    [Fact]
    public async Task OptionalModeWithoutHeader_Passthrough()
    {
        await using TestHost host = await TestHost.StartAsync(o => o.Mode = ProxyProtocolMode.Optional);
        using var recorder = new MeasurementRecorder(host.App.Services);

        string raw = await RawHttpClient.ExchangeAsync(host.Port, "127.0.0.1", Safety, RawHttpClient.GetRoot);
        Assert.Equal("False", TestHost.ParseSingle(raw)["feature"]);

        RecordedMeasurement count = Assert.Single(await recorder.WaitForAsync(Connections, 1, Safety));
        Assert.Equal(1, count.Value);
        Assert.Equal("passthrough", count.Tag("proxy_protocol.outcome"));
        Assert.Equal("no_header", count.Tag("proxy_protocol.passthrough_reason"));
        Assert.Null(count.Tag("error.type"));
    }
}
