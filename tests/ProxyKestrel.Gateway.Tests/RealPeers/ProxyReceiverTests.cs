using System.Text.Json.Nodes;

namespace ProxyKestrel.Gateway.Tests.RealPeers;

/// <summary>
/// Real PROXY protocol receivers (HAProxy with <c>accept-proxy</c>, nginx with <c>listen ... proxy_protocol</c>) behind
/// the real sample gateway: what they decoded from the gateway's header is the client's address and the gateway
/// endpoint it dialled.
/// </summary>
public sealed class ProxyReceiverTests
{
    [Theory]
    [InlineData("v1")]
    [InlineData("v2")]
    public async Task Haproxy_accept_proxy_decodes_the_client_from_the_gateway_header(string version)
    {
        int receiverPort = FreePort.Next();
        await using RealPeerProcess haproxy = await RealPeerProcess.StartHaproxyReceiverAsync(receiverPort);
        await using SampleGateway gateway = await SampleGateway.StartAsync(receiverPort, version);

        (string body, int clientPort) = await RawClient.GetAsync("127.0.0.14", gateway.Port);

        Assert.Equal($"127.0.0.14 {clientPort} 127.0.0.1 {gateway.Port}", body);
    }

    [Theory]
    [InlineData("v1")]
    [InlineData("v2")]
    public async Task Nginx_proxy_protocol_listener_decodes_the_client_from_the_gateway_header(string version)
    {
        int receiverPort = FreePort.Next();
        await using RealPeerProcess nginx = await RealPeerProcess.StartNginxReceiverAsync(receiverPort);
        await using SampleGateway gateway = await SampleGateway.StartAsync(receiverPort, version);

        (string body, int clientPort) = await RawClient.GetAsync("127.0.0.15", gateway.Port);

        Assert.Equal($"127.0.0.15 {clientPort} 127.0.0.1 {gateway.Port}", body);
    }

    [Fact]
    public async Task Chain_haproxy_send_proxy_v2_to_gateway_to_haproxy_keeps_the_first_client()
    {
        int receiverPort = FreePort.Next();
        await using RealPeerProcess receiver = await RealPeerProcess.StartHaproxyReceiverAsync(receiverPort);
        await using SampleGateway gateway = await SampleGateway.StartAsync(
            receiverPort, "v2", new JsonObject { ["TrustedNetworks"] = new JsonArray("127.0.0.1/32") });

        // Picked only now, right before HAProxy binds it: not while the gateway starts (a second or so in which the
        // suite's other connections could take it as their ephemeral port).
        int frontPort = FreePort.Next();
        await using RealPeerProcess front = await RealPeerProcess.StartHaproxyAsync(
            $"""
            global
              log stderr format raw local0 info

            defaults
              mode tcp
              log global
              timeout connect 5s
              timeout client 30s
              timeout server 30s

            frontend front
              bind 127.0.0.1:{frontPort}
              default_backend gateway

            backend gateway
              server gw 127.0.0.1:{gateway.Port} send-proxy-v2

            """,
            frontPort);

        (string body, int clientPort) = await RawClient.GetAsync("127.0.0.16", frontPort);

        // Client -> HAProxy (v2) -> gateway (accepts it, sends its own v2) -> HAProxy receiver: the first client and
        // the first proxy's address are kept end to end.
        Assert.True(
            body == $"127.0.0.16 {clientPort} 127.0.0.1 {frontPort}",
            $"receiver decoded '{body}', expected '127.0.0.16 {clientPort} 127.0.0.1 {frontPort}'\n--- gateway ---\n{gateway.Output}");
    }
}
