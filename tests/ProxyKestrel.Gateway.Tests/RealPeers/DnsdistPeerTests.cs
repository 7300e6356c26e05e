using ProxyKestrel.Gateway.Tests.Infrastructure.Transports;

namespace ProxyKestrel.Gateway.Tests.RealPeers;

/// <summary>
/// The dnsdist test peer in front of the unbound test peer: plain queries to dnsdist reach unbound with a PROXY v2
/// header naming the client, which unbound's access control and query log use.
/// </summary>
[NotPerTransport("talks to dnsdist and unbound directly; no gateway")]
public sealed class DnsdistPeerTests
{
    private const string Client = "127.0.0.2";
    private static readonly TimeSpan s_answerTimeout = TimeSpan.FromSeconds(5);

    [Fact]
    public async Task Query_DnsdistWithProxyProtocolInFrontOfUnbound_IsAnsweredAndUnboundLogsTheClient()
    {
        // 127.0.0.1: dnsdist's health checks carry its own address in their header.
        await using UnboundPeer unbound = await UnboundPeer.StartAsync("behind-dnsdist", ["127.0.0.2/32", "127.0.0.1/32"]);
        await using DnsdistPeer dnsdist = await DnsdistPeer.StartAsync("front-unbound", unbound.Port);

        DnsAnswer? answer = await DnsQuery.ExchangeAsync(Client, dnsdist.Port, PkTestZone.HelloName, 0x0505, headerClient: null, s_answerTimeout);

        Assert.Equal(new DnsAnswer(0x0505, DnsAnswer.NoError, PkTestZone.HelloAddress), answer);
        await unbound.WaitForLogAsync("info: 127.0.0.2 hello.pk.test. A IN");
    }

    [Fact]
    public async Task Start_UseProxyProtocol_HealthChecksReachUnboundWithDnsdistsOwnAddress()
    {
        await using UnboundPeer unbound = await UnboundPeer.StartAsync("health-checked", ["127.0.0.1/32"]);
        await using DnsdistPeer dnsdist = await DnsdistPeer.StartAsync("health-checks", unbound.Port);

        // StartAsync waited for "Marking downstream ... as 'up'": a check went through unbound's proxy-protocol-port.
        await dnsdist.WaitForLogAsync($"Marking downstream 127.0.0.1:{unbound.Port} as 'up'");
        await unbound.WaitForLogAsync("info: 127.0.0.1 hello.pk.test. A IN");
    }

    [Fact]
    public async Task Query_ClientRefusedByUnbound_IsRefusedThroughDnsdist()
    {
        await using UnboundPeer unbound = await UnboundPeer.StartAsync("refuses-client", ["127.0.0.1/32"]);
        await using DnsdistPeer dnsdist = await DnsdistPeer.StartAsync("front-refusing", unbound.Port);

        DnsAnswer? answer = await DnsQuery.ExchangeAsync(Client, dnsdist.Port, PkTestZone.HelloName, 0x0606, headerClient: null, s_answerTimeout);

        // unbound judged the header's client 127.0.0.2, not dnsdist's socket address 127.0.0.1 (which it allows).
        Assert.Equal(new DnsAnswer(0x0606, DnsAnswer.Refused, null), answer);
    }
}
