using System.Net;
using System.Net.Sockets;
using Microsoft.Extensions.Options;
using ProxyKestrel.AspNetCore.Tests.Infrastructure;
using static ProxyKestrel.AspNetCore.Tests.Infrastructure.ConnectionProbe;

namespace ProxyKestrel.AspNetCore.Tests.Security;

/// <summary>
/// docs/security.md, "IPv4-mapped addresses in trusted lists", over real sockets: a dual-mode listener ([::]) sees
/// IPv4 clients as <c>::ffff:a.b.c.d</c>; they are judged by their IPv4 address against IPv4 entries, and an entry
/// written as a mapped network is refused at start-up.
/// </summary>
public sealed class MappedPeerTrustTests
{
    private static readonly IPEndPoint Claimed = new(IPAddress.Parse("203.0.113.7"), 51234);
    private static readonly IPEndPoint Server = new(IPAddress.Parse("198.51.100.1"), 443);

    private static async Task AssertRejectedAsync(int port, string source)
    {
        (Socket socket, bool connected) = await ConnectFromAsync(port, source);
        using (socket)
        {
            if (connected)
            {
                await SendIgnoringResetAsync(socket, Concat(V2(Claimed, Server), RawHttpClient.GetRoot));
                await AssertClosedWithNothingWrittenAsync(socket);
            }
        }
    }

    [Fact]
    public async Task OnConnection_DualModeSingleIPv4HostTrusted_OtherMappedPeerRejected()
    {
        await using TestHost host = await TestHost.StartAsync(
            o => o.TrustedNetworks = ["127.0.0.2/32"],
            kestrel: k => k.Listen(IPAddress.IPv6Any, 0));

        await AssertRejectedAsync(host.Port, "127.0.0.3");
        string trusted = await RawHttpClient.ExchangeAsync(host.Port, "127.0.0.2", Safety, Concat(V2(Claimed, Server), RawHttpClient.GetRoot));

        Dictionary<string, string> r = TestHost.ParseSingle(trusted);
        Assert.Equal(Claimed.ToString(), r["remote"]);
        Assert.StartsWith("[::ffff:127.0.0.2]:", r["proxy"], StringComparison.Ordinal);
    }

    [Fact]
    public async Task Start_MappedNetworkEntry_RefusedNamingTheIPv4Network()
    {
        // An entry in IPv4-mapped form would match no peer (mapped peers are compared in IPv4 form): start-up fails.
        var ex = await Assert.ThrowsAsync<OptionsValidationException>(async () =>
        {
            await using TestHost host = await TestHost.StartAsync(
                o => o.TrustedNetworks = ["::ffff:127.0.0.0/104"],
                kestrel: k => k.Listen(IPAddress.IPv6Any, 0));
        });

        string failure = Assert.Single(ex.Failures);
        Assert.Contains("ProxyProtocol:TrustedNetworks:0", failure, StringComparison.Ordinal);
        Assert.Contains("127.0.0.0/8", failure, StringComparison.Ordinal);
    }
}
