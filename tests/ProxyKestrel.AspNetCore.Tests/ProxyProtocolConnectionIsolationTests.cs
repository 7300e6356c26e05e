using System.Net;
using System.Net.Sockets;
using System.Text;
using Microsoft.Extensions.Time.Testing;
using ProxyKestrel.AspNetCore.Tests.Infrastructure;
using static ProxyKestrel.AspNetCore.Tests.Infrastructure.ConnectionProbe;

namespace ProxyKestrel.AspNetCore.Tests;

/// <summary>A stalled or rejected connection does not affect the others.</summary>
public sealed class ProxyProtocolConnectionIsolationTests
{
    private static readonly IPEndPoint Client = new(IPAddress.Parse("203.0.113.7"), 51234);
    private static readonly IPEndPoint Server = new(IPAddress.Parse("198.51.100.1"), 443);

    [Fact]
    public async Task StalledMidHeader_OtherConnectionWithValidHeaderAnswered()
    {
        var time = new FakeTimeProvider(); // never advanced: the stalled connection cannot time out
        await using TestHost host = await TestHost.StartAsync(time: time);
        using Socket stalled = await RawHttpClient.ConnectAsync(host.Port);
        await stalled.SendAsync(V2(Client, Server).AsMemory(0, 10));
        Assert.True(await StaysOpenAsync(stalled, TimeSpan.FromMilliseconds(200)), "The stalled connection closed.");

        var other = new IPEndPoint(IPAddress.Parse("203.0.113.8"), 40000);
        string raw = await RawHttpClient.ExchangeAsync(host.Port, "127.0.0.1", Safety, Concat(V2(other, Server), RawHttpClient.GetRoot));

        Assert.Equal(other.ToString(), TestHost.ParseSingle(raw)["remote"]);
        Assert.True(await StaysOpenAsync(stalled, TimeSpan.FromMilliseconds(200)), "The stalled connection closed.");

        // It still completes once the rest of its header arrives.
        byte[] header = V2(Client, Server);
        await stalled.SendAsync(Concat(header[10..], RawHttpClient.GetRoot));
        Assert.Equal(Client.ToString(), TestHost.ParseSingle(await RawHttpClient.ReadToEndAsync(stalled, Safety))["remote"]);
    }

    [Fact]
    public async Task AfterGarbageRejected_NewValidConnectionAnswered()
    {
        await using TestHost host = await TestHost.StartAsync();
        using (Socket garbage = await RawHttpClient.ConnectAsync(host.Port))
        {
            await SendIgnoringResetAsync(garbage, Encoding.ASCII.GetBytes("GET / HTTP/1.1\r\nHost: test\r\n\r\n"));
            await AssertClosedWithNothingWrittenAsync(garbage);
        }

        string raw = await RawHttpClient.ExchangeAsync(host.Port, "127.0.0.1", Safety, Concat(V1(Client, Server), RawHttpClient.GetRoot));

        Dictionary<string, string> r = TestHost.ParseSingle(raw);
        Assert.Equal(Client.ToString(), r["remote"]);
        Assert.Equal("True", r["feature"]);
    }
}
