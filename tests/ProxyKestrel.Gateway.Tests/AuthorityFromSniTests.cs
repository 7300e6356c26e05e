using System.Net.Security;
using System.Net.Sockets;
using System.Text;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Time.Testing;
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

    [Fact]
    public async Task Relay_ClientSilent_DialledWithoutAuthorityOnceConnectTimeoutPasses()
    {
        // A server-speaks-first backend behind an SNI route: the gateway waits for a ClientHello up to ConnectTimeout
        // (2 s here), then dials without a server name, and the banner reaches the silent client.
        var time = new FakeTimeProvider();
        await using var backend = new ProxyBackend(banner: "220 ready\r\n");
        await using GatewayHost gateway = await GatewayHost.StartAsync(Config(backend.Address), services => services.AddSingleton<TimeProvider>(time));
        using var measurements = GatewayMeasurements.Start(gateway);
        using Socket client = await Net.ConnectAsync(gateway.EndPointOf("r1"), "127.0.0.42");
        // Counted open before the wait starts (and its timer is set on the same turn): the clock moves only after.
        await Net.WaitUntilAsync(() => measurements.Active("r1") == 1, "the connection counted open");

        time.Advance(TimeSpan.FromSeconds(1.5));
        Assert.False(client.Poll(TimeSpan.FromMilliseconds(300), SelectMode.SelectRead), "answered or closed before ConnectTimeout");
        Assert.Empty(backend.Connections);

        time.Advance(TimeSpan.FromSeconds(1));
        Assert.Equal("220 ready\r\n", Encoding.ASCII.GetString(await Net.ReceiveExactlyAsync(client, 11)));
        BackendConnection seen = await backend.WaitForConnectionAsync();
        Assert.DoesNotContain(seen.Tlvs, t => t.Type == (byte)ProxyTlvType.Authority);
        Assert.Equal("127.0.0.42", seen.Source!.Address.ToString());
    }

    [Fact]
    public async Task Connect_ClientResetsMidClientHello_CountedResetAndBackendNeverContacted()
    {
        await using var backend = new ProxyBackend();
        await using GatewayHost gateway = await GatewayHost.StartAsync(Config(backend.Address));
        using var measurements = GatewayMeasurements.Start(gateway);
        using (Socket client = await Net.ConnectAsync(gateway.EndPointOf("r1"), "127.0.0.43"))
        {
            await Net.WaitUntilAsync(() => measurements.Active("r1") == 1, "the connection counted open");
            // A TLS handshake record announcing 512 bytes, of which 4 arrive.
            await Net.SendAllAsync(client, new byte[] { 0x16, 0x03, 0x01, 0x02, 0x00, 0x01, 0x00, 0x01, 0xFC });
            client.LingerState = new LingerOption(true, 0);
        }

        await Net.WaitUntilAsync(() => measurements.Results("r1").Count == 1, "the connection counted closed");
        Assert.Equal(["reset"], measurements.Results("r1"));
        Assert.Empty(backend.Connections);
    }
}
