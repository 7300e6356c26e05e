using System.Globalization;
using System.Net;
using System.Text.RegularExpressions;
using ProxyKestrel.Gateway.Tests.Infrastructure;
using ProxyKestrel.Gateway.Tests.RealPeers;

namespace ProxyKestrel.Gateway.Tests.Udp;

/// <summary>
/// UDP routes with real DNS software from Debian, each started by the test: unbound and PowerDNS Recursor receive the
/// gateway's PROXY v2 header and judge (and log) the client it names; dnsdist sends one to a route with
/// <c>AcceptProxyProtocol</c>, which passes the original client on; samples/UdpEcho uses the codec's datagram API.
/// </summary>
public sealed partial class UdpPeerTests
{
    private static readonly TimeSpan s_answer = TimeSpan.FromSeconds(5);
    private static readonly TimeSpan s_drop = TimeSpan.FromSeconds(1);

    private static string Json(int backendPort, string routeExtra = "") => $$"""
        {
          "ReverseProxy": { "Clusters": { "dns": { "Metadata": { "ProxyProtocol": "v2" },
            "Destinations": { "d1": { "Address": "udp://127.0.0.1:{{backendPort}}" } } } } },
          "UdpProxy": { "Routes": { "dns": { "Listen": [ "127.0.0.1:0" ], "ClusterId": "dns" {{routeExtra}} } } }
        }
        """;

    [Fact]
    public async Task Unbound_BehindTheGateway_AllowedClientAnsweredOtherRefusedAndTheLogNamesTheClient()
    {
        // unbound judges the datagram's sender (the gateway, 127.0.0.1) and the header's client alike.
        await using UnboundPeer unbound = await UnboundPeer.StartAsync("udp-route", ["127.0.0.1/32", "127.0.0.2/32"]);
        await using GatewayHost gateway = await GatewayHost.StartAsync(Json(unbound.Port));
        int port = gateway.UdpEndPointOf("dns").Port;

        DnsAnswer? allowed = await DnsQuery.ExchangeAsync("127.0.0.2", port, PkTestZone.HelloName, 0x1601, headerClient: null, s_answer);
        DnsAnswer? refused = await DnsQuery.ExchangeAsync("127.0.0.3", port, PkTestZone.HelloName, 0x1602, headerClient: null, s_answer);

        Assert.Equal(new DnsAnswer(0x1601, DnsAnswer.NoError, PkTestZone.HelloAddress), allowed);
        Assert.Equal(new DnsAnswer(0x1602, DnsAnswer.Refused, null), refused);
        await unbound.WaitForLogAsync("info: 127.0.0.2 hello.pk.test. A IN");
        // unbound logs only the queries it answers: the refused one is in no line, and no line names the gateway.
        Assert.DoesNotContain("info: 127.0.0.3 ", unbound.Log, StringComparison.Ordinal);
        Assert.DoesNotContain("info: 127.0.0.1 hello.pk.test.", unbound.Log, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Dnsdist_InFrontOfAnAcceptProxyProtocolRoute_UnboundSeesTheOriginalClient()
    {
        // dnsdist (127.0.0.1) -> gateway route accepting its header -> unbound. 127.0.0.1 is allowed for the
        // gateway's own socket and for dnsdist's health checks, whose header names dnsdist itself.
        await using UnboundPeer unbound = await UnboundPeer.StartAsync("chain", ["127.0.0.1/32", "127.0.0.2/32"]);
        await using GatewayHost gateway = await GatewayHost.StartAsync(Json(
            unbound.Port, ", \"AcceptProxyProtocol\": { \"TrustedNetworks\": [ \"127.0.0.1/32\" ] }"));
        await using DnsdistPeer dnsdist = await DnsdistPeer.StartAsync("chain-front", gateway.UdpEndPointOf("dns").Port);

        DnsAnswer? answer = await DnsQuery.ExchangeAsync("127.0.0.2", dnsdist.Port, PkTestZone.HelloName, 0x1603, headerClient: null, s_answer);
        DnsAnswer? refused = await DnsQuery.ExchangeAsync("127.0.0.3", dnsdist.Port, PkTestZone.HelloName, 0x1604, headerClient: null, s_answer);

        Assert.Equal(new DnsAnswer(0x1603, DnsAnswer.NoError, PkTestZone.HelloAddress), answer);
        Assert.Equal(new DnsAnswer(0x1604, DnsAnswer.Refused, null), refused);
        await unbound.WaitForLogAsync("info: 127.0.0.2 hello.pk.test. A IN");
    }

    [Fact]
    public async Task PdnsRecursor_BehindTheGateway_AllowedClientAnsweredOtherDroppedAndTheLogNamesTheClient()
    {
        // The recursor's allow-from judges only the header's client; proxy-protocol-from names the gateway.
        await using PdnsRecursorPeer recursor = await PdnsRecursorPeer.StartAsync("udp-route", ["127.0.0.2/32"]);
        await using GatewayHost gateway = await GatewayHost.StartAsync(Json(recursor.Port));
        int port = gateway.UdpEndPointOf("dns").Port;

        DnsAnswer? allowed = await DnsQuery.ExchangeAsync("127.0.0.2", port, PkTestZone.HelloName, 0x1605, headerClient: null, s_answer);
        DnsAnswer? dropped = await DnsQuery.ExchangeAsync("127.0.0.3", port, PkTestZone.HelloName, 0x1606, headerClient: null, s_drop);

        Assert.Equal(new DnsAnswer(0x1605, DnsAnswer.NoError, PkTestZone.HelloAddress), allowed);
        Assert.Null(dropped);
        string line = await recursor.WaitForLogAsync("qname=\"hello.pk.test\" qtype=\"A\" remote=\"127.0.0.2:");
        Assert.Contains("(proxied by 127.0.0.1:", line, StringComparison.Ordinal);
        await recursor.WaitForLogAsync("Dropping UDP query, address not matched by allow-from");
    }

    [Fact]
    public async Task Dnsdist_InFrontOfTheGatewayInFrontOfPdnsRecursor_TheRecursorSeesTheOriginalClient()
    {
        await using PdnsRecursorPeer recursor = await PdnsRecursorPeer.StartAsync("chain", ["127.0.0.1/32", "127.0.0.2/32"]);
        await using GatewayHost gateway = await GatewayHost.StartAsync(Json(
            recursor.Port, ", \"AcceptProxyProtocol\": { \"TrustedNetworks\": [ \"127.0.0.1/32\" ] }"));
        await using DnsdistPeer dnsdist = await DnsdistPeer.StartAsync("chain-front-recursor", gateway.UdpEndPointOf("dns").Port);

        DnsAnswer? answer = await DnsQuery.ExchangeAsync("127.0.0.2", dnsdist.Port, PkTestZone.HelloName, 0x1607, headerClient: null, s_answer);

        Assert.Equal(new DnsAnswer(0x1607, DnsAnswer.NoError, PkTestZone.HelloAddress), answer);
        await recursor.WaitForLogAsync("qname=\"hello.pk.test\" qtype=\"A\" remote=\"127.0.0.2:");
    }

    [Fact]
    public async Task UdpEcho_BehindTheGateway_AnswersWithTheRealClient()
    {
        string dll = Path.Combine(RepoPaths.SampleOutput("UdpEcho"), "UdpEcho.dll");
        Assert.True(File.Exists(dll), $"The sample is not built: {dll}. Build the test project first.");
        await using ChildProcess echo = ChildProcess.Start("dotnet", [dll, "--listen", "127.0.0.1:0"], Path.GetDirectoryName(dll), [new("DOTNET_NOLOGO", "1")], name: "UdpEcho");
        Match listening = await echo.WaitForLineAsync(ListeningRegex(), TimeSpan.FromSeconds(30));
        int echoPort = int.Parse(listening.Groups[1].Value, CultureInfo.InvariantCulture);
        await using GatewayHost gateway = await GatewayHost.StartAsync(Json(echoPort));
        using var client = new UdpTestClient(gateway.UdpEndPointOf("dns"), "127.0.0.2");
        using var other = new UdpTestClient(gateway.UdpEndPointOf("dns"), "127.0.0.3");

        Assert.Equal($"127.0.0.2 {client.LocalEndPoint.Port} hello", await client.ExchangeAsync("hello"));
        Assert.Equal($"127.0.0.3 {other.LocalEndPoint.Port} world", await other.ExchangeAsync("world"));
    }

    [GeneratedRegex(@"^listening on 127\.0\.0\.1:(\d+)$")]
    private static partial Regex ListeningRegex();
}
