using ProxyKestrel.Gateway.Tests.Infrastructure;

namespace ProxyKestrel.Gateway.Tests;

public class StartupValidationTests
{
    [Fact]
    public async Task Start_ConfigWithSeveralErrors_FailsListingEveryOne()
    {
        const string json = """
            {
              "ReverseProxy": { "Clusters": { "c1": {
                "Destinations": { "d1": { "Address": "tcp://127.0.0.1:1" } } } } },
              "TcpProxy": { "Routes": {
                "bad-listen": { "Listen": "nonsense", "ClusterId": "c1" },
                "no-cluster": { "Listen": "127.0.0.1:0" },
                "bad-timeout": { "Listen": "127.0.0.1:0", "ClusterId": "c1", "ConnectTimeout": "x" },
                "typo": { "Lisen": "127.0.0.1:0", "ClusterId": "c1" },
                "bad-network": { "Listen": "127.0.0.1:0", "ClusterId": "c1", "AllowedClients": ["10.0.0.1/8", "::ffff:10.0.0.0/104"] } } }
            }
            """;

        Exception e = await Assert.ThrowsAnyAsync<Exception>(() => GatewayHost.StartAsync(json));

        string message = Net.AllMessages(e);
        Assert.Contains("TcpProxy:Routes:bad-listen:Listen:0: 'nonsense' is not an endpoint", message);
        Assert.Contains("TcpProxy:Routes:no-cluster:ClusterId: missing", message);
        Assert.Contains("TcpProxy:Routes:bad-timeout:ConnectTimeout: 'x' is not a time span", message);
        Assert.Contains("TcpProxy:Routes:typo:Lisen: unknown key", message);
        Assert.Contains("TcpProxy:Routes:bad-network:AllowedClients:0: '10.0.0.1/8' is not a network", message);
        Assert.Contains("TcpProxy:Routes:bad-network:AllowedClients:1: '::ffff:10.0.0.0/104' is an IPv4-mapped IPv6 network", message);
        Assert.Contains("here 10.0.0.0/8", message);
    }
}
