using ProxyKestrel.Gateway.Tests.Infrastructure.Transports;

namespace ProxyKestrel.Gateway.Tests.RealPeers;

/// <summary>
/// The PowerDNS Recursor test peer on its own and behind dnsdist: datagrams from its <c>proxy-protocol-from</c>
/// sender carry a PROXY v2 header, and its <c>allow-from</c> and query log use the address in it.
/// </summary>
[NotPerTransport("talks to pdns_recursor (and dnsdist) directly; no gateway")]
public sealed class PdnsRecursorPeerTests
{
    private const string Sender = "127.0.0.1";
    private const string Client = "127.0.0.2";
    private static readonly TimeSpan s_answerTimeout = TimeSpan.FromSeconds(5);
    private static readonly TimeSpan s_dropTimeout = TimeSpan.FromSeconds(1);

    [Fact]
    public async Task Query_V2HeaderFromTheProxySender_IsAnsweredAndLogsTheHeaderClient()
    {
        await using PdnsRecursorPeer recursor = await PdnsRecursorPeer.StartAsync("allowed", ["127.0.0.2/32"]);

        DnsAnswer? answer = await DnsQuery.ExchangeAsync(Sender, recursor.Port, PkTestZone.HelloName, 0x0707, headerClient: Client, s_answerTimeout);

        Assert.Equal(new DnsAnswer(0x0707, DnsAnswer.NoError, PkTestZone.HelloAddress), answer);
        string line = await recursor.WaitForLogAsync("qname=\"hello.pk.test\" qtype=\"A\" remote=\"127.0.0.2:");
        Assert.Contains("(proxied by 127.0.0.1:", line, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Query_V2HeaderNamingAClientOutsideAllowFrom_IsDropped()
    {
        await using PdnsRecursorPeer recursor = await PdnsRecursorPeer.StartAsync("not-allowed", ["127.0.0.2/32"]);

        DnsAnswer? answer = await DnsQuery.ExchangeAsync(Sender, recursor.Port, PkTestZone.HelloName, 0x0808, headerClient: "127.0.0.3", s_dropTimeout);

        Assert.Null(answer);
        string line = await recursor.WaitForLogAsync("Dropping UDP query, address not matched by allow-from");
        Assert.Contains("source=\"127.0.0.3:", line, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Query_WithoutHeaderFromTheProxySender_IsDropped()
    {
        // The sender 127.0.0.1 is itself outside allow-from: only the header could have let it in.
        await using PdnsRecursorPeer recursor = await PdnsRecursorPeer.StartAsync("no-header", ["127.0.0.2/32"]);

        DnsAnswer? answer = await DnsQuery.ExchangeAsync(Sender, recursor.Port, PkTestZone.HelloName, 0x0909, headerClient: null, s_dropTimeout);

        Assert.Null(answer);
        await recursor.WaitForLogAsync("Ignoring invalid proxy protocol query");
        Assert.DoesNotContain("qname=\"hello.pk.test\"", recursor.Log, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Query_DnsdistWithProxyProtocolInFront_IsAnsweredAndTheRecursorLogsTheClient()
    {
        // 127.0.0.1: dnsdist's health checks carry its own address in their header.
        await using PdnsRecursorPeer recursor = await PdnsRecursorPeer.StartAsync("behind-dnsdist", ["127.0.0.2/32", "127.0.0.1/32"]);
        await using DnsdistPeer dnsdist = await DnsdistPeer.StartAsync("front-recursor", recursor.Port);

        DnsAnswer? answer = await DnsQuery.ExchangeAsync(Client, dnsdist.Port, PkTestZone.HelloName, 0x0A0A, headerClient: null, s_answerTimeout);

        Assert.Equal(new DnsAnswer(0x0A0A, DnsAnswer.NoError, PkTestZone.HelloAddress), answer);
        string line = await recursor.WaitForLogAsync("qtype=\"A\" remote=\"127.0.0.2:");
        Assert.Contains("(proxied by 127.0.0.1:", line, StringComparison.Ordinal);
    }
}
