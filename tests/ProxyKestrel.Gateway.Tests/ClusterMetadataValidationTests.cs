using ProxyKestrel.Gateway.Tests.Infrastructure;

namespace ProxyKestrel.Gateway.Tests;

public class ClusterMetadataValidationTests
{
    [Fact]
    public async Task Start_InvalidProxyProtocolMetadata_FailsListingEveryError()
    {
        const string json = """
            {
              "ReverseProxy": { "Clusters": {
                "bad-version": { "Metadata": { "ProxyProtocol": "v3" },
                  "Destinations": { "d1": { "Address": "tcp://127.0.0.1:1" } } },
                "tlvs-with-v1": { "Metadata": { "ProxyProtocol": "v1", "ProxyProtocol.Tlvs": "unique-id, bogus" },
                  "Destinations": { "d1": { "Address": "tcp://127.0.0.1:1" } } } } },
              "TcpProxy": { "Routes": { "r1": { "Listen": "127.0.0.1:0", "ClusterId": "bad-version" } } }
            }
            """;

        Exception e = await Assert.ThrowsAnyAsync<Exception>(() => GatewayHost.StartAsync(json));

        string message = Net.AllMessages(e);
        Assert.Contains("bad-version:Metadata:ProxyProtocol: 'v3'", message);
        Assert.Contains("tlvs-with-v1:Metadata:ProxyProtocol.Tlvs: 'bogus'", message);
        Assert.Contains("tlvs-with-v1:Metadata:ProxyProtocol.Tlvs: TLVs need ProxyProtocol = v2", message);
    }
}
