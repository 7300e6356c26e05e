using System.Net;
using System.Net.Sockets;
using System.Text;
using ProxyKestrel.AspNetCore.Tests.Infrastructure;
using static ProxyKestrel.AspNetCore.Tests.Infrastructure.ConnectionProbe;

namespace ProxyKestrel.AspNetCore.Tests.Security;

/// <summary>
/// docs/security.md, "Mode=Optional on a public port": Optional relaxes what a trusted peer must send, never whom
/// the middleware believes. A peer outside TrustedNetworks that sends a header never changes the address, and the
/// decision is taken from the first bytes of the connection only: a header later in the stream is just data.
/// </summary>
public sealed class OptionalModeSpoofingTests
{
    private static readonly IPEndPoint Claimed = new(IPAddress.Parse("203.0.113.7"), 51234);
    private static readonly IPEndPoint Server = new(IPAddress.Parse("198.51.100.1"), 443);
    private static readonly byte[] KeepAliveGet = Encoding.ASCII.GetBytes("GET / HTTP/1.1\r\nHost: test\r\n\r\n");

    [Theory]
    [InlineData(1)]
    [InlineData(2)]
    public async Task OnConnection_OptionalModeUntrustedPeerPassthroughSendsHeader_AddressNeverChanges(int version)
    {
        await using TestHost host = await TestHost.StartAsync(o =>
        {
            o.TrustedNetworks = ["127.0.0.1/32"];
            o.Mode = ProxyProtocolMode.Optional;
            o.UntrustedPeers = UntrustedPeerBehavior.Passthrough;
        });
        byte[] header = version == 1 ? V1(Claimed, Server) : V2(Claimed, Server);

        string spoof = await RawHttpClient.ExchangeAsync(host.Port, "127.0.0.2", Safety, Concat(header, RawHttpClient.GetRoot));
        string plain = await RawHttpClient.ExchangeAsync(host.Port, "127.0.0.2", Safety, RawHttpClient.GetRoot);

        // The header is not parsed: HTTP sees "PROXY ..." (or binary) as its request line and refuses it.
        Assert.DoesNotContain(Claimed.Address.ToString(), spoof, StringComparison.Ordinal);
        Assert.True(spoof.Length == 0 || spoof.StartsWith("HTTP/1.1 400", StringComparison.Ordinal), spoof);
        Dictionary<string, string> r = TestHost.ParseSingle(plain);
        Assert.StartsWith("127.0.0.2:", r["remote"], StringComparison.Ordinal);
        Assert.Equal("False", r["feature"]);
    }

    [Fact]
    public async Task OnConnection_OptionalModeUntrustedPeerReject_ClosedWithNothingWritten()
    {
        await using TestHost host = await TestHost.StartAsync(o =>
        {
            o.TrustedNetworks = ["127.0.0.1/32"];
            o.Mode = ProxyProtocolMode.Optional;
        });
        (Socket socket, bool connected) = await ConnectFromAsync(host.Port, "127.0.0.2");
        using (socket)
        {
            if (connected)
            {
                await SendIgnoringResetAsync(socket, Concat(V1(Claimed, Server), RawHttpClient.GetRoot));
                await AssertClosedWithNothingWrittenAsync(socket);
            }
        }
    }

    [Fact]
    public async Task OnConnection_OptionalModeHeaderAfterFirstRequest_NeverParsed()
    {
        await using TestHost host = await TestHost.StartAsync(o => o.Mode = ProxyProtocolMode.Optional);

        // A trusted peer without a header: the first bytes decide (no header); a PROXY line later is an HTTP request.
        string raw = await RawHttpClient.ExchangeAsync(host.Port, "127.0.0.1", Safety, Concat(KeepAliveGet, V1(Claimed, Server), RawHttpClient.GetRoot));

        Assert.StartsWith("HTTP/1.1 200", raw, StringComparison.Ordinal);
        Assert.Contains("remote=127.0.0.1:", raw, StringComparison.Ordinal);
        Assert.Contains("HTTP/1.1 400", raw, StringComparison.Ordinal);
        Assert.DoesNotContain(Claimed.Address.ToString(), raw, StringComparison.Ordinal);
    }
}
