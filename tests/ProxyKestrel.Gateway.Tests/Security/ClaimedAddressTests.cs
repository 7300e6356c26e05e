using System.Net;
using System.Net.Sockets;
using System.Text;
using ProxyKestrel.Gateway.Tests.Infrastructure;

namespace ProxyKestrel.Gateway.Tests.Security;

/// <summary>
/// docs/security.md, "A trusted proxy compromised" and "Config reload turning trust wider": on a route with
/// AcceptProxyProtocol, AllowedClients is evaluated on the address the trusted sender claims, so whoever is in
/// TrustedNetworks decides who passes the ACL; a reload that narrows TrustedNetworks applies to the next connection.
/// </summary>
public class ClaimedAddressTests
{
    private const string Accept = """, "AcceptProxyProtocol": { "TrustedNetworks": ["127.0.0.1/32"] }, "AllowedClients": ["203.0.113.0/24"]""";

    private static byte[] Header(string claimedSource)
    {
        byte[] buffer = new byte[128];
        var writer = ProxyV2HeaderWriter.Proxy(buffer, IPAddress.Parse(claimedSource), 5555, IPAddress.Parse("192.0.2.1"), 25);
        return buffer[..writer.Complete()];
    }

    [Fact]
    public async Task Relay_TrustedSenderClaimsAllowedAddress_PassesAllowedClientsAndBackendSeesTheClaim()
    {
        await using var backend = new ProxyBackend();
        await using GatewayHost gateway = await GatewayHost.StartAsync(GatewayRelayTests.Config(backend.Address, "v2", Accept));
        using Socket client = await Net.ConnectAsync(gateway.EndPointOf("r1"), "127.0.0.1");

        byte[] payload = Encoding.ASCII.GetBytes("EHLO claimed\r\n");
        await Net.SendAllAsync(client, (byte[])[.. Header("203.0.113.7"), .. payload]);
        Assert.Equal(payload, await Net.ReceiveExactlyAsync(client, payload.Length));

        BackendConnection seen = await backend.WaitForConnectionAsync();
        Assert.Equal(new IPEndPoint(IPAddress.Parse("203.0.113.7"), 5555), seen.Source);
    }

    [Fact]
    public async Task Connect_TrustedSenderClaimsAddressOutsideAllowedClients_ClosedAndBackendNeverContacted()
    {
        await using var backend = new ProxyBackend();
        await using GatewayHost gateway = await GatewayHost.StartAsync(GatewayRelayTests.Config(backend.Address, "v2", Accept));

        // The socket peer (127.0.0.1) is trusted, but the client it claims is not in AllowedClients.
        await Net.AssertRefusedAsync(gateway.EndPointOf("r1"), "127.0.0.1", [.. Header("198.51.100.7"), .. "EHLO x\r\n"u8.ToArray()]);
        await Task.Delay(100);
        Assert.Empty(backend.Connections);
    }

    [Fact]
    public async Task Connect_UntrustedSenderClaimsAllowedAddress_ClosedAndBackendNeverContacted()
    {
        await using var backend = new ProxyBackend();
        await using GatewayHost gateway = await GatewayHost.StartAsync(GatewayRelayTests.Config(backend.Address, "v2", Accept));

        await Net.AssertRefusedAsync(gateway.EndPointOf("r1"), "127.0.0.2", [.. Header("203.0.113.7"), .. "EHLO x\r\n"u8.ToArray()]);
        await Task.Delay(100);
        Assert.Empty(backend.Connections);
    }

    [Fact]
    public async Task Connect_TrustedSenderSendsLocal_CheckedAsItselfAgainstAllowedClients()
    {
        await using var backend = new ProxyBackend();
        await using GatewayHost gateway = await GatewayHost.StartAsync(GatewayRelayTests.Config(backend.Address, "v2", Accept));
        byte[] buffer = new byte[64];
        var writer = ProxyV2HeaderWriter.Local(buffer);
        byte[] local = buffer[..writer.Complete()];

        // LOCAL keeps the socket's addresses: the sender (127.0.0.1) is the client, and it is not in AllowedClients.
        await Net.AssertRefusedAsync(gateway.EndPointOf("r1"), "127.0.0.1", [.. local, .. "EHLO x\r\n"u8.ToArray()]);
        await Task.Delay(100);
        Assert.Empty(backend.Connections);
    }

    [Fact]
    public async Task Reload_TrustedNetworksNarrowed_FormerlyTrustedSenderRefused()
    {
        await using var backend = new ProxyBackend();
        string Config(string trusted) => ReloadConfig.Json(
            new Dictionary<string, string> { ["c1"] = backend.Address },
            new Dictionary<string, string> { ["r1"] = ReloadConfig.Route("c1", $$""", "AcceptProxyProtocol": { "TrustedNetworks": ["{{trusted}}"] }""") });
        await using GatewayHost gateway = await GatewayHost.StartAsync(Config("127.0.0.0/8"));
        IPEndPoint listen = gateway.EndPointOf("r1");
        byte[] probe = [.. Header("203.0.113.9"), .. "EHLO probe\r\n"u8.ToArray()];
        Assert.False(await RefusedAsync(listen, "127.0.0.33", probe));

        await File.WriteAllTextAsync(gateway.ConfigPath, Config("127.0.0.1/32"));

        await Net.WaitUntilAsync(() => RefusedAsync(listen, "127.0.0.33", probe), "the narrowed TrustedNetworks to refuse 127.0.0.33");
        Assert.Equal(listen, gateway.EndPointOf("r1"));
        Assert.False(await RefusedAsync(listen, "127.0.0.1", probe));
    }

    /// <summary>True when the gateway closes the connection without relaying; false when the payload is echoed.</summary>
    private static async Task<bool> RefusedAsync(IPEndPoint listen, string from, byte[] input)
    {
        Socket socket;
        try
        {
            socket = await Net.ConnectAsync(listen, from);
        }
        catch (SocketException)
        {
            return true;
        }

        using (socket)
        {
            try
            {
                await Net.SendAllAsync(socket, input);
                using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(5));
                byte[] buffer = new byte[256];
                int n = await socket.ReceiveAsync(buffer, SocketFlags.None, cts.Token);
                return n == 0;
            }
            catch (SocketException)
            {
                return true;
            }
        }
    }
}
