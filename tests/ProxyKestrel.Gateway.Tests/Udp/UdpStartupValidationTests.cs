using System.Net;
using ProxyKestrel.Gateway.Routing;
using ProxyKestrel.Gateway.Tests.Infrastructure;

namespace ProxyKestrel.Gateway.Tests.Udp;

/// <summary>A bad UdpProxy configuration fails the start with every error: which key, what was wrong, what is allowed.</summary>
public sealed class UdpStartupValidationTests
{
    [Fact]
    public async Task Start_ManyBadValues_FailsListingEveryOne()
    {
        const string json = """
        {
          "ReverseProxy": { "Clusters": {
            "text": { "Metadata": { "ProxyProtocol": "v1" }, "Destinations": { "d1": { "Address": "udp://127.0.0.1:5301" } } },
            "tcp": { "Destinations": { "d1": { "Address": "tcp://127.0.0.1:5302" } } } } },
          "UdpProxy": {
            "DrainTimeout": "02:00:00",
            "Colour": "blue",
            "Routes": {
              "a": { "Listen": [ "127.0.0.1:0" ], "ClusterId": "text", "IdleTimeout": "00:00:00.5", "MaxSessions": 0 },
              "b": { "Listen": [ "not-an-endpoint" ], "ClusterId": "tcp", "Bogus": 1,
                     "AcceptProxyProtocol": { "TrustedNetworks": [ "10.0.0.0/33" ], "AllowedVersions": "V1", "HeaderTimeout": "00:00:05" } },
              "c": { "Listen": [ "127.0.0.1:0" ], "ClusterId": "missing", "MaxSessions": "many" },
              "d": { "ClusterId": "" } } }
        }
        """;

        InvalidOperationException e = await Assert.ThrowsAsync<InvalidOperationException>(() => GatewayHost.StartAsync(json));

        string[] expected =
        [
            "UdpProxy:DrainTimeout: 02:00:00 is out of range; allowed: 00:00:00 to 01:00:00.",
            "UdpProxy:Colour: unknown key; allowed keys: Routes, DrainTimeout, Transport.",
            "UdpProxy:Routes:a:IdleTimeout: 00:00:00.5000000 is out of range; allowed: 00:00:01 to 01:00:00.",
            "UdpProxy:Routes:a:MaxSessions: 0 is out of range; allowed: 1 or more.",
            "ReverseProxy:Clusters:text:Metadata:ProxyProtocol: v1 is a text header for TCP connections; the cluster serves the UDP route UdpProxy:Routes:a, allowed: v2 or none.",
            "UdpProxy:Routes:b:Listen:0: 'not-an-endpoint' is not an endpoint",
            "UdpProxy:Routes:b:Bogus: unknown key; allowed keys: Listen, ClusterId, IdleTimeout, MaxSessions, AcceptProxyProtocol.",
            "UdpProxy:Routes:b:AcceptProxyProtocol:HeaderTimeout: does not apply to UDP",
            "UdpProxy:Routes:b:AcceptProxyProtocol:TrustedNetworks",
            "UdpProxy:Routes:b:AcceptProxyProtocol:AllowedVersions: V1 has no v2; allowed on UDP: V2 or All",
            "ReverseProxy:Clusters:tcp:Destinations:d1:Address: 'tcp://127.0.0.1:5302' is not a UDP destination (the cluster serves the UDP route UdpProxy:Routes:b); allowed: udp://HOST:PORT.",
            "UdpProxy:Routes:c:ClusterId: cluster 'missing' is not defined under ReverseProxy:Clusters",
            "UdpProxy:Routes:c:MaxSessions: 'many' is not a whole number; allowed: 1 or more.",
            "UdpProxy:Routes:d:Listen: missing; allowed: one or more endpoints",
            "UdpProxy:Routes:d:ClusterId: missing; allowed: the id of a cluster under ReverseProxy:Clusters.",
        ];
        foreach (string error in expected)
        {
            Assert.Contains(error, e.Message, StringComparison.Ordinal);
        }
    }

    [Fact]
    public void ParseAddress_UdpDestinationForATcpRoute_RefusedNotDialledOverTcp()
    {
        // A udp:// address is not a TCP destination: a TCP route's connection to it fails as one with a bad address.
        Assert.Throws<FormatException>(() => DestinationConnector.ParseAddress("udp://127.0.0.1:53"));
        Assert.Equal(new IPEndPoint(IPAddress.Loopback, 53), DestinationConnector.ParseAddress("tcp://127.0.0.1:53"));
        Assert.Equal(new IPEndPoint(IPAddress.Loopback, 53), DestinationConnector.ParseAddress("127.0.0.1:53"));
        // A cluster may serve an HTTP route and a TCP route at once (HttpAndTcpLeastRequestsTests).
        Assert.Equal(new IPEndPoint(IPAddress.Loopback, 8080), DestinationConnector.ParseAddress("http://127.0.0.1:8080"));
    }
}
