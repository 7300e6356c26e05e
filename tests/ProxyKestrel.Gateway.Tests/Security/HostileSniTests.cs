using System.Buffers.Binary;
using System.Net.Sockets;
using System.Text;
using ProxyKestrel.Gateway.Tests.Infrastructure;

namespace ProxyKestrel.Gateway.Tests.Security;

/// <summary>
/// docs/security.md, "TLS passthrough with SNI authority": the server name of a client's ClientHello becomes the
/// AUTHORITY TLV sent to the backend. A client controls those bytes: control characters must not reach the gateway's
/// logs, and an oversized name must not break the gateway.
/// </summary>
public class HostileSniTests
{
    private static string Config(string backend) => $$"""
        {
          "ReverseProxy": { "Clusters": { "c1": {
            "Metadata": { "ProxyProtocol": "v2", "ProxyProtocol.Tlvs": "authority,unique-id,crc32c" },
            "Destinations": { "d1": { "Address": "{{backend}}" } } } } },
          "TcpProxy": { "Routes": { "r1": { "Listen": "127.0.0.1:0", "ClusterId": "c1", "ConnectTimeout": "00:00:02" } } }
        }
        """;

    /// <summary>A minimal TLS 1.2 ClientHello record whose SNI extension carries <paramref name="name"/> as is.</summary>
    private static byte[] ClientHello(byte[] name)
    {
        var body = new List<byte> { 0x03, 0x03 };
        body.AddRange(new byte[32]); // random
        body.Add(0); // session id
        body.AddRange([0x00, 0x02, 0x13, 0x01]); // one cipher suite
        body.AddRange([0x01, 0x00]); // compression: null
        var sni = new List<byte>();
        sni.AddRange(U16(name.Length + 3)); // server name list
        sni.Add(0); // host_name
        sni.AddRange(U16(name.Length));
        sni.AddRange(name);
        var extensions = new List<byte> { 0x00, 0x00 };
        extensions.AddRange(U16(sni.Count));
        extensions.AddRange(sni);
        body.AddRange(U16(extensions.Count));
        body.AddRange(extensions);
        var handshake = new List<byte> { 0x01, (byte)(body.Count >> 16), (byte)(body.Count >> 8), (byte)body.Count };
        handshake.AddRange(body);
        var record = new List<byte> { 0x16, 0x03, 0x01 };
        record.AddRange(U16(handshake.Count));
        record.AddRange(handshake);
        return [.. record];
    }

    private static byte[] U16(int value)
    {
        byte[] bytes = new byte[2];
        BinaryPrimitives.WriteUInt16BigEndian(bytes, (ushort)value);
        return bytes;
    }

    [Fact]
    public async Task Relay_SniWithControlBytes_ForwardedAsAuthorityButNeverLogged()
    {
        var logs = new ListLoggerProvider();
        await using var backend = new ProxyBackend();
        await using GatewayHost gateway = await GatewayHost.StartAsync(Config(backend.Address), logger: logs);
        byte[] name = "mail.example\r\nFORGED\u001b[2J"u8.ToArray();
        byte[] hello = ClientHello(name);
        using (Socket client = await Net.ConnectAsync(gateway.EndPointOf("r1"), "127.0.0.41"))
        {
            await Net.SendAllAsync(client, hello);
            Assert.Equal(hello, await Net.ReceiveExactlyAsync(client, hello.Length));
        }

        BackendConnection seen = await backend.WaitForConnectionAsync();
        (byte Type, byte[] Value) authority = Assert.Single(seen.Tlvs, t => t.Type == (byte)ProxyTlvType.Authority);
        Assert.Equal(name, authority.Value);
        await Net.WaitUntilAsync(() => logs.Entries.Any(e => e.EventId.Name == "ConnectionRelayed"), "the relayed connection's log entry");
        Assert.DoesNotContain(logs.Entries, e => e.Message.Contains("FORGED", StringComparison.Ordinal) || e.Message.Contains('\u001b', StringComparison.Ordinal));
    }

    /// <summary>A server name far beyond DNS's 253 characters (40 labels of 63): about 2.5 KB.</summary>
    private static byte[] OversizedName() => Encoding.ASCII.GetBytes(string.Join('.', Enumerable.Repeat(new string('a', 63), 40)));

    private static async Task SendAndCloseAsync(GatewayHost gateway, string from, byte[] input)
    {
        using Socket hostile = await Net.ConnectAsync(gateway.EndPointOf("r1"), from);
        await Net.SendAllAsync(hostile, input);
        hostile.Shutdown(SocketShutdown.Send);
        await Net.AssertClosedAsync(hostile, TimeSpan.FromSeconds(10));
    }

    [Fact]
    public async Task Relay_ClientHelloWithOversizedSni_GatewayKeepsServing()
    {
        await using var backend = new ProxyBackend();
        await using GatewayHost gateway = await GatewayHost.StartAsync(Config(backend.Address));

        for (int i = 0; i < 3; i++)
        {
            await SendAndCloseAsync(gateway, "127.0.0.42", ClientHello(OversizedName()));
        }

        using Socket next = await Net.ConnectAsync(gateway.EndPointOf("r1"), "127.0.0.43");
        await Net.AssertEchoAsync(next, "EHLO next\r\n");
        BackendConnection seen = await backend.WaitForConnectionAsync(4);
        Assert.Equal("127.0.0.43", seen.Source!.Address.ToString());
        Assert.Empty(backend.Errors);
    }

    [Fact]
    public async Task Relay_ClientHelloWithOversizedSni_BackendGetsCompleteHeaderWithTheName()
    {
        await using var backend = new ProxyBackend();
        await using GatewayHost gateway = await GatewayHost.StartAsync(Config(backend.Address));
        byte[] name = OversizedName();

        await SendAndCloseAsync(gateway, "127.0.0.44", ClientHello(name));

        // The header is sized for the client's name (it once overflowed a fixed 512-byte buffer after the backend
        // connection was open, so the backend saw a connection without a header).
        BackendConnection seen = await backend.WaitForConnectionAsync();
        Assert.Equal("127.0.0.44", seen.Source!.Address.ToString());
        (byte Type, byte[] Value) authority = Assert.Single(seen.Tlvs, t => t.Type == (byte)ProxyTlvType.Authority);
        Assert.Equal(name, authority.Value);
        Assert.Empty(backend.Errors);
    }
}
