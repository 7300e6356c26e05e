using System.Net;
using System.Net.Http;
using System.Net.Security;
using System.Net.Sockets;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using ProxyKestrel.AspNetCore.Tests.Infrastructure;

namespace ProxyKestrel.AspNetCore.Tests;

/// <summary>The PROXY header comes before the TLS handshake; ALPN then chooses HTTP/2 or HTTP/1.1 on the same port.</summary>
public sealed class ProxyProtocolTlsAlpnTests
{
    private static readonly IPAddress ClientAddress = IPAddress.Parse("198.51.100.9");
    private static readonly IPEndPoint Destination = new(IPAddress.Parse("192.0.2.10"), 443);

    [Fact]
    public async Task Http1AndHttp2OverTls_AlpnH2AndHttp11_EachConnectionHasItsHeaderClient()
    {
        using X509Certificate2 cert = TestCertificates.CreateSelfSigned();
        await using TestHost host = await TestHost.StartAsync(
            addProxyProtocol: false,
            useProxyProtocol: false,
            kestrel: k => k.Listen(IPAddress.Loopback, 0, lo =>
            {
                lo.Protocols = HttpProtocols.Http1AndHttp2;
                lo.UseProxyProtocol();
                lo.UseHttps(cert);
            }));

        // Connection n (1-based) sends a header whose client port is 4241 + n.
        int connects = 0;
        string thumbprint = cert.GetCertHashString(HashAlgorithmName.SHA256);
        using var client = new HttpClient(new SocketsHttpHandler
        {
            ConnectCallback = async (context, cancellationToken) =>
            {
                int n = Interlocked.Increment(ref connects);
                var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
                try
                {
                    socket.Bind(new IPEndPoint(IPAddress.Loopback, 0));
                    await socket.ConnectAsync(context.DnsEndPoint, cancellationToken);
                    await socket.SendAsync(ConnectionProbe.V2(new IPEndPoint(ClientAddress, 4241 + n), Destination), cancellationToken);
                    return new NetworkStream(socket, ownsSocket: true);
                }
                catch
                {
                    socket.Dispose();
                    throw;
                }
            },
            SslOptions = new SslClientAuthenticationOptions
            {
                RemoteCertificateValidationCallback = (_, certificate, _, _) =>
                    certificate is not null && certificate.GetCertHashString(HashAlgorithmName.SHA256) == thumbprint,
            },
        })
        { Timeout = ConnectionProbe.Safety };
        var uri = new Uri($"https://127.0.0.1:{host.Port}/");

        using var h2Request = new HttpRequestMessage(HttpMethod.Get, uri) { Version = HttpVersion.Version20, VersionPolicy = HttpVersionPolicy.RequestVersionExact };
        using HttpResponseMessage h2 = await client.SendAsync(h2Request);
        Assert.Equal(HttpStatusCode.OK, h2.StatusCode);
        Assert.Equal(HttpVersion.Version20, h2.Version);
        Dictionary<string, string> r2 = TestHost.ParseBody(await h2.Content.ReadAsStringAsync());
        Assert.Equal("HTTP/2", r2["protocol"]);
        Assert.Equal("https", r2["scheme"]);
        Assert.Equal("198.51.100.9:4242", r2["remote"]);
        Assert.Equal(Destination.ToString(), r2["local"]);
        Assert.Equal("True", r2["feature"]);

        using var h1Request = new HttpRequestMessage(HttpMethod.Get, uri) { Version = HttpVersion.Version11, VersionPolicy = HttpVersionPolicy.RequestVersionExact };
        using HttpResponseMessage h1 = await client.SendAsync(h1Request);
        Assert.Equal(HttpStatusCode.OK, h1.StatusCode);
        Assert.Equal(HttpVersion.Version11, h1.Version);
        Dictionary<string, string> r1 = TestHost.ParseBody(await h1.Content.ReadAsStringAsync());
        Assert.Equal("HTTP/1.1", r1["protocol"]);
        Assert.Equal("https", r1["scheme"]);
        Assert.Equal("198.51.100.9:4243", r1["remote"]);

        Assert.Equal(2, Volatile.Read(ref connects));
    }
}
