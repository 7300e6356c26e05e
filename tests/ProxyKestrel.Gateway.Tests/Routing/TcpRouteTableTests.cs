using System.Net;
using ProxyKestrel.Gateway.Configuration;
using ProxyKestrel.Gateway.Routing;
using ProxyKestrel.Gateway.Tests.Infrastructure.Transports;

namespace ProxyKestrel.Gateway.Tests.Routing;

[NotPerTransport("chooses among routes; no socket")]
public class TcpRouteTableTests
{
    private static readonly TcpRouteTable Table = new(
    [
        Route("tls-a", new TcpRouteMatch { Sni = ["a.example.com", "*.a.example.com"] }),
        Route("tls-a-deep", new TcpRouteMatch { Sni = ["*.x.a.example.com"] }),
        Route("tls-b-h2", new TcpRouteMatch { Sni = ["b.example.com"], Alpn = ["h2"] }),
        Route("tls-b", new TcpRouteMatch { Sni = ["b.example.com"] }),
        Route("web-a", new TcpRouteMatch { Host = ["a.example.com"] }),
        Route("ssh", new TcpRouteMatch { Protocol = [TcpClientProtocol.Ssh] }),
        Route("inside", new TcpRouteMatch { SourceNetworks = ["10.0.0.0/8"] }),
        Route("inside-ssh", new TcpRouteMatch { Protocol = [TcpClientProtocol.Ssh], SourceNetworks = ["10.0.0.0/8"] }),
        Route("default", null),
    ]);

    public static TheoryData<string?, string?, string?, string?, TcpClientProtocol?, string> Cases => new()
    {
        // client, sni, alpn, host, protocol → route
        { "192.0.2.1", "a.example.com", null, null, TcpClientProtocol.Tls, "tls-a" },
        { "192.0.2.1", "A.EXAMPLE.COM.", null, null, TcpClientProtocol.Tls, "tls-a" },
        { "192.0.2.1", "w.a.example.com", null, null, TcpClientProtocol.Tls, "tls-a" },
        { "192.0.2.1", "y.x.a.example.com", null, null, TcpClientProtocol.Tls, "tls-a-deep" },
        { "192.0.2.1", "x.a.example.com", null, null, TcpClientProtocol.Tls, "tls-a" },
        { "192.0.2.1", "b.example.com", "h2", null, TcpClientProtocol.Tls, "tls-b-h2" },
        { "192.0.2.1", "b.example.com", "http/1.1", null, TcpClientProtocol.Tls, "tls-b" },
        { "192.0.2.1", "c.example.com", "h2", null, TcpClientProtocol.Tls, "default" },
        { "192.0.2.1", null, null, null, TcpClientProtocol.Tls, "default" },
        { "192.0.2.1", null, null, "a.example.com", TcpClientProtocol.Http, "web-a" },
        { "192.0.2.1", null, null, "b.example.com", TcpClientProtocol.Http, "default" },
        { "192.0.2.1", null, null, null, TcpClientProtocol.Ssh, "ssh" },
        { "10.1.2.3", null, null, null, TcpClientProtocol.Ssh, "inside-ssh" },
        { "10.1.2.3", null, null, null, TcpClientProtocol.Other, "inside" },
        { "10.1.2.3", "a.example.com", null, null, TcpClientProtocol.Tls, "tls-a" },
        { null, null, null, null, TcpClientProtocol.Other, "default" },
    };

    [Theory]
    [MemberData(nameof(Cases))]
    public void Select_Facts_TheMostSpecificMatchingRoute(string? client, string? sni, string? alpn, string? host, TcpClientProtocol? protocol, string expected)
    {
        var facts = new ClientFacts
        {
            Client = client is null ? null : IPAddress.Parse(client),
            ServerName = sni,
            Alpn = alpn is null ? null : [alpn],
            Host = host,
            Protocol = protocol,
        };

        Assert.Equal(expected, Table.Select(facts)?.RouteId);
    }

    [Fact]
    public void Select_NoMatchAndNoDefault_None()
    {
        var table = new TcpRouteTable([Route("tls-a", new TcpRouteMatch { Sni = ["a.example.com"] })]);

        Assert.Null(table.Select(new ClientFacts { Protocol = TcpClientProtocol.Tls, ServerName = "b.example.com" }));
        Assert.Null(table.Single);
        Assert.True(table.NeedsTls);
    }

    [Fact]
    public void Table_OneRouteWithoutMatch_SingleAndNoInspection()
    {
        var table = new TcpRouteTable([Route("only", null)]);

        Assert.Equal("only", table.Single?.RouteId);
        Assert.False(table.NeedsProtocol);
    }

    [Fact]
    public void Table_SourceNetworksOnly_NoInspectionOfBytes()
    {
        var table = new TcpRouteTable([Route("inside", new TcpRouteMatch { SourceNetworks = ["10.0.0.0/8"] }), Route("default", null)]);

        Assert.Null(table.Single);
        Assert.False(table.NeedsProtocol);
    }

    private static TcpRoute Route(string id, TcpRouteMatch? match) =>
        new(new TcpRouteConfig { RouteId = id, Listen = ["127.0.0.1:8443"], ClusterId = "c", Match = match }, null, new TcpRouteCounter());
}
