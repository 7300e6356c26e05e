using System.Net;
using ProxyKestrel.Gateway.Tests.Infrastructure;

namespace ProxyKestrel.Gateway.Tests;

public class ProxyHeaderIPv6Tests
{
    [Theory]
    [InlineData("v1")]
    [InlineData("v2")]
    public async Task Relay_IPv6Client_BackendSeesIPv6SourceAndDialledAddress(string version)
    {
        await using var backend = new ProxyBackend(address: IPAddress.IPv6Loopback);
        string json = $$"""
            {
              "ReverseProxy": { "Clusters": { "c1": {
                "Metadata": { "ProxyProtocol": "{{version}}" },
                "Destinations": { "d1": { "Address": "{{backend.Address}}" } } } } },
              "TcpProxy": { "Routes": { "r1": { "Listen": "[::1]:0", "ClusterId": "c1" } } }
            }
            """;
        await using GatewayHost gateway = await GatewayHost.StartAsync(json);
        IPEndPoint listen = gateway.EndPointOf("r1");
        Assert.Equal(IPAddress.IPv6Loopback, listen.Address);

        using var client = await Net.ConnectAsync(listen, "::1");
        await Net.AssertEchoAsync(client, "hello over IPv6");

        BackendConnection seen = await backend.WaitForConnectionAsync();
        Assert.Equal(version == "v1" ? ProxyProtocolVersion.V1 : ProxyProtocolVersion.V2, seen.Version);
        Assert.Equal(client.LocalEndPoint, seen.Source);
        Assert.Equal(listen, seen.Destination);
    }
}
