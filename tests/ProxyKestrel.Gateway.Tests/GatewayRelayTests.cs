using System.Net;
using System.Net.Sockets;
using System.Text;
using ProxyKestrel.Gateway.Tests.Infrastructure;

namespace ProxyKestrel.Gateway.Tests;

public class GatewayRelayTests
{
    internal static string Config(string backendAddress, string version, string extraRoute = "", string tlvs = "") => $$"""
        {
          "ReverseProxy": { "Clusters": { "c1": {
            "Metadata": { "ProxyProtocol": "{{version}}"{{(tlvs.Length > 0 ? $", \"ProxyProtocol.Tlvs\": \"{tlvs}\"" : "")}} },
            "Destinations": { "d1": { "Address": "{{backendAddress}}" } } } } },
          "TcpProxy": { "Routes": { "r1": { "Listen": "127.0.0.1:0", "ClusterId": "c1"{{extraRoute}} } } }
        }
        """;

    [Theory]
    [InlineData("v1", "127.0.0.2")]
    [InlineData("v2", "127.0.0.3")]
    public async Task Relay_ClientFromDistinctAddress_BackendSeesClientAndDialledAddress(string version, string clientAddress)
    {
        await using var backend = new ProxyBackend(banner: "220 ready\r\n");
        await using GatewayHost gateway = await GatewayHost.StartAsync(Config(backend.Address, version));
        IPEndPoint listen = gateway.EndPointOf("r1");

        using var client = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        client.Bind(new IPEndPoint(IPAddress.Parse(clientAddress), 0));
        await client.ConnectAsync(listen);
        byte[] banner = new byte[11];
        int got = await client.ReceiveAsync(banner);

        BackendConnection seen = await backend.WaitForConnectionAsync();
        Assert.Equal("220 ready\r\n", Encoding.ASCII.GetString(banner, 0, got));
        Assert.Equal(version == "v1" ? ProxyProtocolVersion.V1 : ProxyProtocolVersion.V2, seen.Version);
        Assert.Equal(IPAddress.Parse(clientAddress), seen.Source!.Address);
        Assert.Equal(((IPEndPoint)client.LocalEndPoint!).Port, seen.Source.Port);
        Assert.Equal(listen, seen.Destination);
    }
}
