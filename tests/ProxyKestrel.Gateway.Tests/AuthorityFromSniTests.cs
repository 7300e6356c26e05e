using System.Net.Security;
using System.Net.Sockets;
using System.Text;
using ProxyKestrel.Gateway.Tests.Infrastructure;

namespace ProxyKestrel.Gateway.Tests;

public class AuthorityFromSniTests
{
    private static string Config(string backend) => $$"""
        {
          "ReverseProxy": { "Clusters": { "c1": {
            "Metadata": { "ProxyProtocol": "v2", "ProxyProtocol.Tlvs": "authority" },
            "Destinations": { "d1": { "Address": "{{backend}}" } } } } },
          "TcpProxy": { "Routes": { "r1": { "Listen": "127.0.0.1:0", "ClusterId": "c1", "ConnectTimeout": "00:00:02" } } }
        }
        """;

    [Fact]
    public async Task Relay_TlsClientHelloWithSni_SendsAuthorityTlvAndTheClientHelloIntact()
    {
        await using var backend = new ProxyBackend();
        await using GatewayHost gateway = await GatewayHost.StartAsync(Config(backend.Address));
        using Socket socket = await Net.ConnectAsync(gateway.EndPointOf("r1"), "127.0.0.28");
        await using var stream = new NetworkStream(socket, ownsSocket: false);
        await using var tls = new SslStream(stream);

        // The echo backend sends the ClientHello back, which is no ServerHello: the handshake fails, by design.
        Task handshake = tls.AuthenticateAsClientAsync(new SslClientAuthenticationOptions { TargetHost = "mail.example.test" });
        BackendConnection seen = await backend.WaitForConnectionAsync();
        await Assert.ThrowsAnyAsync<Exception>(() => handshake);

        (byte Type, byte[] Value) authority = Assert.Single(seen.Tlvs, t => t.Type == (byte)ProxyTlvType.Authority);
        Assert.Equal("mail.example.test", Encoding.ASCII.GetString(authority.Value));
        Assert.Equal("127.0.0.28", seen.Source!.Address.ToString());
    }

    [Fact]
    public async Task Relay_ClientSpeaksPlainText_SendsNoAuthorityAndRelaysIntact()
    {
        await using var backend = new ProxyBackend();
        await using GatewayHost gateway = await GatewayHost.StartAsync(Config(backend.Address));
        using Socket client = await Net.ConnectAsync(gateway.EndPointOf("r1"), "127.0.0.29");

        await Net.AssertEchoAsync(client, "EHLO plain\r\n");

        BackendConnection seen = await backend.WaitForConnectionAsync();
        Assert.DoesNotContain(seen.Tlvs, t => t.Type == (byte)ProxyTlvType.Authority);
    }
}
