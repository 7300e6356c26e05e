using System.Diagnostics.Metrics;
using System.Net;
using System.Net.Http;
using System.Net.Security;
using System.Net.Sockets;
using System.Security.Cryptography.X509Certificates;
using System.Text;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Mvc.Testing;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;
using Microsoft.Extensions.Time.Testing;
using ProxyKestrel.AspNetCore.Tests.Infrastructure;
using ProxyKestrel.ProxyProtocol;
using static ProxyKestrel.AspNetCore.Tests.Infrastructure.ConnectionProbe;

namespace ProxyKestrel.AspNetCore.Tests;

public sealed class ProxyProtocolConnectionMiddlewareTests
{
    private static readonly IPEndPoint ClientV4 = new(IPAddress.Parse("203.0.113.7"), 51234);
    private static readonly IPEndPoint ServerV4 = new(IPAddress.Parse("198.51.100.1"), 443);
    private static readonly IPEndPoint ClientV6 = new(IPAddress.Parse("2001:db8::7"), 40001);
    private static readonly IPEndPoint ServerV6 = new(IPAddress.Parse("2001:db8::1"), 8443);

    private static byte[] KeepAliveGet { get; } = Encoding.ASCII.GetBytes("GET / HTTP/1.1\r\nHost: test\r\n\r\n");

    /// <summary>Sends <c>GET /</c> without a header from <paramref name="source"/>: answered with the socket endpoint, no feature.</summary>
    private static async Task AssertAnsweredWithSocketEndpointAsync(int port, string source)
    {
        string raw = await RawHttpClient.ExchangeAsync(port, source, Safety, RawHttpClient.GetRoot);

        Dictionary<string, string> r = TestHost.ParseSingle(raw);
        Assert.StartsWith(source + ":", r["remote"], StringComparison.Ordinal);
        Assert.Equal("False", r["feature"]);
    }

    public static TheoryData<int, string> HeaderKinds => new()
    {
        { 1, "v4" },
        { 1, "v6" },
        { 2, "v4" },
        { 2, "v6" },
    };

    [Theory]
    [MemberData(nameof(HeaderKinds))]
    public async Task OnConnection_HeaderAndRequestInOneWrite_RemoteIsHeaderSource(int version, string family)
    {
        (IPEndPoint client, IPEndPoint server) = family == "v4" ? (ClientV4, ServerV4) : (ClientV6, ServerV6);
        byte[] header = version == 1 ? V1(client, server) : V2(client, server);
        await using TestHost host = await TestHost.StartAsync();

        string raw = await RawHttpClient.ExchangeAsync(host.Port, "127.0.0.1", Safety, Concat(header, RawHttpClient.GetRoot));

        Dictionary<string, string> r = TestHost.ParseSingle(raw);
        Assert.Equal(client.ToString(), r["remote"]);
        Assert.Equal(server.ToString(), r["local"]);
        Assert.Equal("True", r["feature"]);
        Assert.Equal(version.ToString(System.Globalization.CultureInfo.InvariantCulture), r["version"]);
        Assert.Equal("Proxy", r["command"]);
        Assert.StartsWith("127.0.0.1:", r["proxy"], StringComparison.Ordinal);
    }

    [Theory]
    [InlineData(1)]
    [InlineData(2)]
    public async Task OnConnection_HeaderWithTwoPipelinedRequests_BothAnsweredWithHeaderClient(int version)
    {
        byte[] header = version == 1 ? V1(ClientV4, ServerV4) : V2(ClientV4, ServerV4);
        await using TestHost host = await TestHost.StartAsync();

        string raw = await RawHttpClient.ExchangeAsync(host.Port, "127.0.0.1", Safety, Concat(header, KeepAliveGet, RawHttpClient.GetRoot));

        List<Dictionary<string, string>> responses = TestHost.ParseResponses(raw);
        Assert.Equal(2, responses.Count);
        Assert.All(responses, r => Assert.Equal(ClientV4.ToString(), r["remote"]));
    }

    [Theory]
    [InlineData(1)]
    [InlineData(2)]
    public async Task OnConnection_HeaderSentByteByByte_Accepted(int version)
    {
        byte[] header = version == 1 ? V1(ClientV6, ServerV6) : V2(ClientV6, ServerV6);
        await using TestHost host = await TestHost.StartAsync();
        using Socket socket = await RawHttpClient.ConnectAsync(host.Port);

        foreach (byte b in header)
        {
            await socket.SendAsync(new[] { b });
            await Task.Delay(1);
        }

        await socket.SendAsync(RawHttpClient.GetRoot);
        Dictionary<string, string> r = TestHost.ParseSingle(await RawHttpClient.ReadToEndAsync(socket, Safety));
        Assert.Equal(ClientV6.ToString(), r["remote"]);
    }

    [Fact]
    public async Task OnConnection_StallMidHeader_ClosedAfterHeaderTimeoutWithNothingWritten()
    {
        var time = new FakeTimeProvider();
        await using TestHost host = await TestHost.StartAsync(time: time);
        using Socket socket = await RawHttpClient.ConnectAsync(host.Port);
        byte[] header = V2(ClientV4, ServerV4);
        await socket.SendAsync(header.AsMemory(0, 10));

        Assert.True(await StaysOpenAsync(socket, TimeSpan.FromMilliseconds(300)), "The connection closed before the header timeout.");

        // Advance past the 5 s timeout (repeatedly, in case the middleware's timer started after an earlier advance).
        var clock = System.Diagnostics.Stopwatch.StartNew();
        await AdvanceUntilClosedAsync(socket, time);

        // Closed by the fake clock, well before the real 5 s timeout could have fired.
        Assert.True(clock.Elapsed < TimeSpan.FromSeconds(4), $"Closed after {clock.Elapsed} of real time.");
    }

    [Fact]
    public async Task OnConnection_UntrustedPeerReject_ClosedWithNothingWritten()
    {
        await using TestHost host = await TestHost.StartAsync(o => o.TrustedNetworks = ["127.0.0.1/32"]);
        (Socket connectedSocket, bool connected) = await ConnectFromAsync(host.Port, "127.0.0.2");
        using Socket socket = connectedSocket;
        if (!connected)
        {
            return; // the server closed the connection at once, before anything could be written
        }

        await SendIgnoringResetAsync(socket, Concat(V1(ClientV4, ServerV4), RawHttpClient.GetRoot));
        await AssertClosedWithNothingWrittenAsync(socket);
    }

    [Fact]
    public async Task OnConnection_UntrustedPeerPassthrough_AnsweredWithSocketEndpointAndNoFeature()
    {
        await using TestHost host = await TestHost.StartAsync(o =>
        {
            o.TrustedNetworks = ["127.0.0.1/32"];
            o.UntrustedPeers = UntrustedPeerBehavior.Passthrough;
        });

        await AssertAnsweredWithSocketEndpointAsync(host.Port, "127.0.0.2");
    }

    [Fact]
    public async Task OnConnection_DualModeIPv4MappedPeer_TrustedByIPv4Network()
    {
        await using TestHost host = await TestHost.StartAsync(
            o => o.TrustedNetworks = ["127.0.0.0/8"],
            kestrel: k => k.Listen(IPAddress.IPv6Any, 0));

        string raw = await RawHttpClient.ExchangeAsync(host.Port, "127.0.0.1", Safety, Concat(V2(ClientV4, ServerV4), RawHttpClient.GetRoot));

        Dictionary<string, string> r = TestHost.ParseSingle(raw);
        Assert.Equal(ClientV4.ToString(), r["remote"]);
        Assert.StartsWith("[::ffff:127.0.0.1]:", r["proxy"], StringComparison.Ordinal);
    }

    [Fact]
    public async Task OnConnection_V2Local_KeepsSocketEndpoints()
    {
        byte[] buffer = new byte[64];
        var writer = ProxyV2HeaderWriter.Local(buffer);
        byte[] header = buffer[..writer.Complete()];
        await using TestHost host = await TestHost.StartAsync();

        string raw = await RawHttpClient.ExchangeAsync(host.Port, "127.0.0.1", Safety, Concat(header, RawHttpClient.GetRoot));

        Dictionary<string, string> r = TestHost.ParseSingle(raw);
        Assert.StartsWith("127.0.0.1:", r["remote"], StringComparison.Ordinal);
        Assert.Equal($"127.0.0.1:{host.Port}", r["local"]);
        Assert.Equal("True", r["feature"]);
        Assert.Equal("Local", r["command"]);
        Assert.Equal(string.Empty, r["source"]);
    }

    [Fact]
    public async Task OnConnection_V1Unknown_KeepsSocketEndpoints()
    {
        byte[] buffer = new byte[ProxyHeaderWriter.V1MaxLength];
        byte[] header = buffer[..ProxyHeaderWriter.WriteV1Unknown(buffer)];
        await using TestHost host = await TestHost.StartAsync();

        string raw = await RawHttpClient.ExchangeAsync(host.Port, "127.0.0.1", Safety, Concat(header, RawHttpClient.GetRoot));

        Dictionary<string, string> r = TestHost.ParseSingle(raw);
        Assert.StartsWith("127.0.0.1:", r["remote"], StringComparison.Ordinal);
        Assert.Equal($"127.0.0.1:{host.Port}", r["local"]);
        Assert.Equal("True", r["feature"]);
        Assert.Equal("1", r["version"]);
    }

    [Fact]
    public async Task OnConnection_InvalidCrc32C_ClosedAndRejectionMetricRecorded()
    {
        byte[] header = V2(ClientV4, ServerV4, crc: true);
        header[^1] ^= 0xFF; // the CRC32C TLV is last: flip a byte of the checksum
        await using TestHost host = await TestHost.StartAsync();
        object meterScope = host.App.Services.GetRequiredService<IMeterFactory>();
        var rejected = new TaskCompletionSource<string>(TaskCreationOptions.RunContinuationsAsynchronously);
        using var listener = new MeterListener();
        listener.InstrumentPublished = (instrument, l) =>
        {
            if (instrument.Meter.Name == "ProxyKestrel.AspNetCore.ProxyProtocol"
                && instrument.Name == "proxykestrel.proxy_protocol.connections"
                && ReferenceEquals(instrument.Meter.Scope, meterScope))
            {
                l.EnableMeasurementEvents(instrument);
            }
        };
        listener.SetMeasurementEventCallback<long>((_, _, tags, _) =>
        {
            string? outcome = null;
            string? error = null;
            foreach (KeyValuePair<string, object?> tag in tags)
            {
                if (tag.Key == "proxy_protocol.outcome")
                {
                    outcome = tag.Value as string;
                }
                else if (tag.Key == "error.type")
                {
                    error = tag.Value as string;
                }
            }

            if (outcome == "rejected")
            {
                rejected.TrySetResult(error ?? "(none)");
            }
        });
        listener.Start();

        using Socket socket = await RawHttpClient.ConnectAsync(host.Port);
        await SendIgnoringResetAsync(socket, Concat(header, RawHttpClient.GetRoot));
        await AssertClosedWithNothingWrittenAsync(socket);

        Assert.Equal("V2Crc32CMismatch", await rejected.Task.WaitAsync(Safety));
    }

    [Fact]
    public async Task OnConnection_ValidCrc32C_Accepted()
    {
        await using TestHost host = await TestHost.StartAsync();
        string raw = await RawHttpClient.ExchangeAsync(host.Port, "127.0.0.1", Safety, Concat(V2(ClientV4, ServerV4, crc: true), RawHttpClient.GetRoot));
        Assert.Equal(ClientV4.ToString(), TestHost.ParseSingle(raw)["remote"]);
    }

    [Fact]
    public async Task OnConnection_OptionalModeWithoutHeader_AnsweredWithSocketEndpoints()
    {
        await using TestHost host = await TestHost.StartAsync(o => o.Mode = ProxyProtocolMode.Optional);

        await AssertAnsweredWithSocketEndpointAsync(host.Port, "127.0.0.1");
    }

    [Fact]
    public async Task OnConnection_OptionalModeWithHeader_HeaderUsed()
    {
        await using TestHost host = await TestHost.StartAsync(o => o.Mode = ProxyProtocolMode.Optional);

        string raw = await RawHttpClient.ExchangeAsync(host.Port, "127.0.0.1", Safety, Concat(V1(ClientV4, ServerV4), RawHttpClient.GetRoot));

        Assert.Equal(ClientV4.ToString(), TestHost.ParseSingle(raw)["remote"]);
    }

    [Fact]
    public async Task OnConnection_RequiredModeWithoutHeader_ClosedWithNothingWritten()
    {
        await using TestHost host = await TestHost.StartAsync();
        using Socket socket = await RawHttpClient.ConnectAsync(host.Port);
        await SendIgnoringResetAsync(socket, RawHttpClient.GetRoot);
        await AssertClosedWithNothingWrittenAsync(socket);
    }

    [Fact]
    public async Task OnConnection_KeepAliveSequentialRequests_SameClientForBoth()
    {
        await using TestHost host = await TestHost.StartAsync();
        using Socket socket = await RawHttpClient.ConnectAsync(host.Port);
        await socket.SendAsync(Concat(V2(ClientV6, ServerV6), KeepAliveGet));

        // Read the first response completely (Content-Length framed) before sending the second request.
        var first = new StringBuilder();
        byte[] buffer = new byte[8192];
        using (var cts = new CancellationTokenSource(Safety))
        {
            while (true)
            {
                int n = await socket.ReceiveAsync(buffer, SocketFlags.None, cts.Token);
                Assert.NotEqual(0, n);
                first.Append(Encoding.UTF8.GetString(buffer, 0, n));
                string text = first.ToString();
                if (text.Contains("\r\n\r\n", StringComparison.Ordinal) && text.Contains("\ntlvCount=", StringComparison.Ordinal) && text.EndsWith('\n'))
                {
                    break;
                }
            }
        }

        await socket.SendAsync(RawHttpClient.GetRoot);
        string second = await RawHttpClient.ReadToEndAsync(socket, Safety);

        Assert.Equal(ClientV6.ToString(), TestHost.ParseSingle(first.ToString())["remote"]);
        Assert.Equal(ClientV6.ToString(), TestHost.ParseSingle(second)["remote"]);
    }

    private static HttpClient ClientSendingHeader(byte[] header, X509Certificate2? serverCertificate = null) => new(new SocketsHttpHandler
    {
        ConnectCallback = async (context, cancellationToken) =>
        {
            var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
            try
            {
                await socket.ConnectAsync(context.DnsEndPoint, cancellationToken);
                await socket.SendAsync(header, cancellationToken);
                return new NetworkStream(socket, ownsSocket: true);
            }
            catch
            {
                socket.Dispose();
                throw;
            }
        },
        SslOptions = new SslClientAuthenticationOptions { RemoteCertificateValidationCallback = (_, certificate, _, _) =>
                serverCertificate is not null && certificate is not null && certificate.GetCertHashString() == serverCertificate.GetCertHashString() },
    })
    { Timeout = Safety };

    [Fact]
    public async Task OnConnection_H2cPriorKnowledge_RemoteIsHeaderClient()
    {
        await using TestHost host = await TestHost.StartAsync(kestrel: k =>
            k.Listen(IPAddress.Loopback, 0, lo => lo.Protocols = HttpProtocols.Http2));
        using HttpClient client = ClientSendingHeader(V2(ClientV4, ServerV4));

        using var request = new HttpRequestMessage(HttpMethod.Get, $"http://127.0.0.1:{host.Port}/")
        {
            Version = HttpVersion.Version20,
            VersionPolicy = HttpVersionPolicy.RequestVersionExact,
        };
        using HttpResponseMessage response = await client.SendAsync(request);

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Dictionary<string, string> r = TestHost.ParseBody(await response.Content.ReadAsStringAsync());
        Assert.Equal("HTTP/2", r["protocol"]);
        Assert.Equal(ClientV4.ToString(), r["remote"]);
    }

    [Fact]
    public async Task OnConnection_HeaderBeforeTls_RemoteIsHeaderClient()
    {
        using X509Certificate2 cert = TestCertificates.CreateSelfSigned();
        await using TestHost host = await TestHost.StartAsync(
            addProxyProtocol: false,
            useProxyProtocol: false,
            kestrel: k => k.Listen(IPAddress.Loopback, 0, lo =>
            {
                lo.UseProxyProtocol();
                lo.UseHttps(cert);
            }));
        using HttpClient client = ClientSendingHeader(V1(ClientV6, ServerV6), cert);

        using HttpResponseMessage response = await client.GetAsync(new Uri($"https://127.0.0.1:{host.Port}/"));

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Dictionary<string, string> r = TestHost.ParseBody(await response.Content.ReadAsStringAsync());
        Assert.Equal("https", r["scheme"]);
        Assert.Equal(ClientV6.ToString(), r["remote"]);
        Assert.Equal("True", r["feature"]);
    }

    [Fact]
    public async Task OnConnection_V2TypedTlvs_ExposedOnFeature()
    {
        byte[] buffer = new byte[512];
        var writer = ProxyV2HeaderWriter.Proxy(buffer, ClientV4.Address, ClientV4.Port, ServerV4.Address, ServerV4.Port);
        writer.AddAlpn("h2"u8);
        writer.AddAuthority("example.com");
        writer.AddUniqueId([0xDE, 0xAD, 0xBE, 0xEF, 0x01]);
        writer.BeginSsl(ProxySslClient.Ssl | ProxySslClient.CertificateOnConnection, 0);
        writer.AddSslSubTlv(ProxyTlvType.SslVersion, "TLSv1.3");
        writer.AddSslSubTlv(ProxyTlvType.SslCommonName, "client.example");
        writer.EndSsl();
        writer.AddAwsVpcEndpointId("vpce-08d2bf15fac5001c9"u8);
        writer.AddAzurePrivateLinkId(0x12345678);
        writer.AddGcpPscConnectionId(0x0102030405060708UL);
        writer.AddCrc32C();
        byte[] header = buffer[..writer.Complete()];
        await using TestHost host = await TestHost.StartAsync();

        string raw = await RawHttpClient.ExchangeAsync(host.Port, "127.0.0.1", Safety, Concat(header, RawHttpClient.GetRoot));

        Dictionary<string, string> r = TestHost.ParseSingle(raw);
        Assert.Equal(ClientV4.ToString(), r["remote"]);
        Assert.Equal("h2", r["alpn"]);
        Assert.Equal("example.com", r["authority"]);
        Assert.Equal("DEADBEEF01", r["uniqueId"]);
        Assert.Equal("TLSv1.3", r["sslVersion"]);
        Assert.Equal("client.example", r["sslCn"]);
        Assert.Equal((ProxySslClient.Ssl | ProxySslClient.CertificateOnConnection).ToString(), r["sslClient"]);
        Assert.Equal("vpce-08d2bf15fac5001c9", r["aws"]);
        Assert.Equal(0x12345678u.ToString(System.Globalization.CultureInfo.InvariantCulture), r["azure"]);
        Assert.Equal(0x0102030405060708UL.ToString(System.Globalization.CultureInfo.InvariantCulture), r["gcp"]);
        Assert.Equal("8", r["tlvCount"]);
    }

    [Fact]
    public async Task Start_InvalidOptions_ThrowsWithEveryFailure()
    {
        var ex = await Assert.ThrowsAsync<OptionsValidationException>(async () =>
        {
            await using TestHost host = await TestHost.StartAsync(o =>
            {
                o.HeaderTimeout = TimeSpan.FromSeconds(1);
                o.MaxHeaderSize = 10;
                o.TrustedNetworks = ["nonsense"];
            });
        });

        Assert.Contains(ex.Failures, f => f.Contains("HeaderTimeout", StringComparison.Ordinal));
        Assert.Contains(ex.Failures, f => f.Contains("MaxHeaderSize", StringComparison.Ordinal));
        Assert.Contains(ex.Failures, f => f.Contains("TrustedNetworks", StringComparison.Ordinal) && f.Contains("nonsense", StringComparison.Ordinal));
    }

    [Fact]
    public void UseProxyProtocol_TestServer_ThrowsMentioningKestrel()
    {
        using var factory = new WebApplicationFactory<Program>();

        Exception? ex = Record.Exception(() => factory.CreateClient());

        Assert.NotNull(ex);
        Exception? found = ex;
        while (found is not null && !(found is InvalidOperationException && found.Message.Contains("Kestrel", StringComparison.Ordinal)))
        {
            found = found.InnerException;
        }

        Assert.True(found is not null, "Expected an InvalidOperationException mentioning Kestrel, got: " + ex);
    }

    [Fact]
    public async Task ListenOptionsUseProxyProtocol_OneEndpointOnly_OtherEndpointServesPlainHttp()
    {
        await using TestHost host = await TestHost.StartAsync(
            addProxyProtocol: false,
            useProxyProtocol: false,
            kestrel: k =>
            {
                k.Listen(IPAddress.Loopback, 0, lo => lo.UseProxyProtocol());
                k.Listen(IPAddress.Loopback, 0);
            });
        Assert.Equal(2, host.Ports.Count);
        int proxied = host.Ports[0];
        int plain = host.Ports[1];

        string withHeader = await RawHttpClient.ExchangeAsync(proxied, "127.0.0.1", Safety, Concat(V1(ClientV4, ServerV4), RawHttpClient.GetRoot));
        Assert.Equal(ClientV4.ToString(), TestHost.ParseSingle(withHeader)["remote"]);

        await AssertAnsweredWithSocketEndpointAsync(plain, "127.0.0.1");

        using Socket socket = await RawHttpClient.ConnectAsync(proxied);
        await SendIgnoringResetAsync(socket, RawHttpClient.GetRoot);
        await AssertClosedWithNothingWrittenAsync(socket);
    }
}
