using System.Net;
using ProxyKestrel.Gateway.Tests.Infrastructure.Transports;

namespace ProxyKestrel.Gateway.Tests.RealPeers;

/// <summary>
/// The unbound test peer on its own: clients bound to 127.0.0.N send DNS queries prefixed by a PROXY v2 datagram header
/// (the codec's writer, UDP4) to its <c>proxy-protocol-port</c>; its access control and its query log show the address
/// it decoded.
/// </summary>
[NotPerTransport("talks to unbound directly; no gateway")]
public sealed class UnboundPeerTests
{
    private const string Sender = "127.0.0.1";
    private const string Client = "127.0.0.2";
    private static readonly TimeSpan s_answerTimeout = TimeSpan.FromSeconds(5);
    private static readonly TimeSpan s_dropTimeout = TimeSpan.FromSeconds(1);

    [Fact]
    public async Task Query_V2HeaderNamingAnAllowedClient_IsAnsweredAndLogsTheHeaderClient()
    {
        await using UnboundPeer unbound = await UnboundPeer.StartAsync("allowed", ["127.0.0.2/32"]);

        DnsAnswer? answer = await DnsQuery.ExchangeAsync(Client, unbound.Port, PkTestZone.HelloName, 0x0101, headerClient: Client, s_answerTimeout);

        Assert.Equal(new DnsAnswer(0x0101, DnsAnswer.NoError, PkTestZone.HelloAddress), answer);
        await unbound.WaitForLogAsync("info: 127.0.0.2 hello.pk.test. A IN");
    }

    [Fact]
    public async Task Query_V2HeaderNamingARefusedClient_IsRefused()
    {
        await using UnboundPeer unbound = await UnboundPeer.StartAsync("refused", ["127.0.0.2/32"]);

        DnsAnswer? answer = await DnsQuery.ExchangeAsync(Client, unbound.Port, PkTestZone.HelloName, 0x0202, headerClient: "127.0.0.3", s_answerTimeout);

        Assert.Equal(new DnsAnswer(0x0202, DnsAnswer.Refused, null), answer);
        Assert.DoesNotContain("hello.pk.test. A IN", unbound.Log, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Query_FromAnAllowedSenderWithHeaderNamingTheClient_LogsTheHeaderClient()
    {
        // A gateway's position: it sends from 127.0.0.1 (allowed) on behalf of the client named in the header.
        await using UnboundPeer unbound = await UnboundPeer.StartAsync("sender", ["127.0.0.1/32", "127.0.0.2/32"]);

        DnsAnswer? answer = await DnsQuery.ExchangeAsync(Sender, unbound.Port, PkTestZone.HelloName, 0x0303, headerClient: Client, s_answerTimeout);

        Assert.Equal(new DnsAnswer(0x0303, DnsAnswer.NoError, PkTestZone.HelloAddress), answer);
        await unbound.WaitForLogAsync("info: 127.0.0.2 hello.pk.test. A IN");
        Assert.DoesNotContain("127.0.0.1 hello.pk.test.", unbound.Log, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Query_SenderRefused_IsRefusedEvenWhenTheHeaderClientIsAllowed()
    {
        // unbound 1.17 checks the datagram's source address as well as the header's: a sender must be allowed too.
        await using UnboundPeer unbound = await UnboundPeer.StartAsync("sender-refused", ["127.0.0.2/32"]);

        DnsAnswer? answer = await DnsQuery.ExchangeAsync("127.0.0.3", unbound.Port, PkTestZone.HelloName, 0x0404, headerClient: Client, s_answerTimeout);

        Assert.Equal(new DnsAnswer(0x0404, DnsAnswer.Refused, null), answer);
        Assert.DoesNotContain("hello.pk.test. A IN", unbound.Log, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Query_WithoutHeader_IsDroppedAndLoggedAsNoProxyHeader()
    {
        await using UnboundPeer unbound = await UnboundPeer.StartAsync("no-header", ["127.0.0.2/32"]);

        DnsAnswer? answer = await DnsQuery.ExchangeAsync(Client, unbound.Port, PkTestZone.HelloName, 0x0505, headerClient: null, s_dropTimeout);

        Assert.Null(answer);
        await unbound.WaitForLogAsync("proxy_protocol: could not match PROXYv2 header");
        Assert.DoesNotContain("hello.pk.test. A IN", unbound.Log, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Query_TwoInstancesSideBySide_EachAppliesItsOwnAccessControl()
    {
        await using UnboundPeer first = await UnboundPeer.StartAsync("side-a", ["127.0.0.1/32", "127.0.0.2/32"]);
        await using UnboundPeer second = await UnboundPeer.StartAsync("side-b", ["127.0.0.1/32", "127.0.0.3/32"]);
        Assert.NotEqual(first.Port, second.Port);

        Assert.Equal(DnsAnswer.NoError, await RCodeAsync(first, 1, "127.0.0.2"));
        Assert.Equal(DnsAnswer.Refused, await RCodeAsync(first, 2, "127.0.0.3"));
        Assert.Equal(DnsAnswer.NoError, await RCodeAsync(second, 3, "127.0.0.3"));
        Assert.Equal(DnsAnswer.Refused, await RCodeAsync(second, 4, "127.0.0.2"));

        await first.WaitForLogAsync("info: 127.0.0.2 hello.pk.test. A IN");
        await second.WaitForLogAsync("info: 127.0.0.3 hello.pk.test. A IN");
        Assert.DoesNotContain("127.0.0.3 hello.pk.test.", first.Log, StringComparison.Ordinal);
        Assert.DoesNotContain("127.0.0.2 hello.pk.test.", second.Log, StringComparison.Ordinal);
    }

    /// <summary>The RCODE of a query sent from 127.0.0.1 with a header naming <paramref name="headerClient"/>.</summary>
    private static async Task<int?> RCodeAsync(UnboundPeer unbound, ushort id, string headerClient) =>
        (await DnsQuery.ExchangeAsync(Sender, unbound.Port, PkTestZone.HelloName, id, headerClient, s_answerTimeout))?.RCode;
}
