using System.Buffers;
using System.Net;
using System.Net.Security;
using System.Net.Sockets;
using System.Security.Authentication;
using System.Security.Cryptography.X509Certificates;
using System.Text;
using System.Text.Json;
using ProxyKestrel.AspNetCore.Tests.Infrastructure;
using ProxyKestrel.ProxyProtocol;

namespace ProxyKestrel.AspNetCore.Tests.RealPeers;

/// <summary>
/// A real HAProxy terminating TLS on a certificate the test creates (<c>bind ... ssl crt ... verify optional</c>) and
/// forwarding to the real sample with <c>send-proxy-v2-ssl-cn</c> plus <c>proxy-v2-options</c>: the sample reports the
/// PP2_TYPE_SSL TLV, decoded here with our codec. HAProxy missing is a failure, never a skip.
/// </summary>
public class HaproxyTlsTests
{
    // All the SSL-related options HAProxy 2.6 accepts (it rejects "alpn": "proxy v2 option not implemented").
    private const string ProxyV2Options = "proxy-v2-options ssl,cert-cn,ssl-cipher,cert-sig,cert-key,authority";

    [Fact]
    public async Task Get_ThroughHaproxyTcpTlsWithClientCertificate_ReportsSslTlvWithCommonName()
    {
        (ProxySslTlv ssl, Dictionary<int, byte[]> sub, string dump) = await GetSslThroughHaproxyAsync("tcp", "127.0.0.8", withClientCertificate: true);

        AssertClientCertificateVerified(ssl, sub, dump);
        Assert.False(string.IsNullOrEmpty(Ascii(sub, 0x23)), dump); // cipher, from ssl-cipher
        // HAProxy 2.6's cert-key / cert-sig describe the frontend's own certificate, not the client's: its RSA 2048 key
        // (the client's key is P-256), signed by the (ECDSA) test CA.
        Assert.True(Ascii(sub, 0x25) == "RSA2048", dump);
        Assert.True(Ascii(sub, 0x24) == "ecdsa-with-SHA256", dump);
    }

    [Fact]
    public async Task Get_ThroughHaproxyHttpTlsWithClientCertificate_ReportsSslTlvWithCommonName()
    {
        (ProxySslTlv ssl, Dictionary<int, byte[]> sub, string dump) = await GetSslThroughHaproxyAsync(
            "http", "127.0.0.9", withClientCertificate: true, "option http-server-close");

        AssertClientCertificateVerified(ssl, sub, dump);
    }

    [Fact]
    public async Task Get_ThroughHaproxyTcpTlsWithoutClientCertificate_ReportsSslTlvWithoutCertificate()
    {
        (ProxySslTlv ssl, Dictionary<int, byte[]> sub, string dump) = await GetSslThroughHaproxyAsync("tcp", "127.0.0.10", withClientCertificate: false);

        Assert.True(ssl.Client == ProxySslClient.Ssl, dump);
        Assert.Contains(Ascii(sub, 0x21), (string[])["TLSv1.2", "TLSv1.3"]);
        Assert.False(sub.ContainsKey(0x22), dump); // no certificate, no CN
        // cert-key / cert-sig: the frontend's own certificate, client certificate or not.
        Assert.True(Ascii(sub, 0x25) == "RSA2048", dump);
        Assert.True(Ascii(sub, 0x24) == "ecdsa-with-SHA256", dump);
        Assert.False(string.IsNullOrEmpty(Ascii(sub, 0x23)), dump);
        // HAProxy 2.6 leaves verify at 0 when no certificate was presented: only the client flags tell "no certificate".
        Assert.True(ssl.Verify == 0, dump);
        Assert.False(ssl.IsClientCertificateVerified, dump);
    }

    /// <summary>
    /// Runs the sample behind a TLS-terminating HAProxy in <paramref name="mode"/>, sends one request over TLS from
    /// <paramref name="source"/>, checks it arrived proxied (v2, with authority and ALPN) and returns the decoded
    /// PP2_TYPE_SSL TLV, its sub-TLVs and a description for failure messages.
    /// </summary>
    private static async Task<(ProxySslTlv Ssl, Dictionary<int, byte[]> SubTlvs, string Dump)> GetSslThroughHaproxyAsync(
        string mode, string source, bool withClientCertificate, params string[] frontendLines)
    {
        using TestCertificates certificates = TestCertificates.Create();
        await using WebAppProcess app = await PeerAssert.StartAppBehindProxyAsync();
        int port = FreePort.Next();
        await using PeerProcess haproxy = await HaproxyPeer.StartAsync(
            port, mode, $"server app 127.0.0.1:{app.Port} send-proxy-v2-ssl-cn {ProxyV2Options}", certificates, frontendLines);

        JsonElement json = await GetOverTlsAsync(port, source, certificates, withClientCertificate, app, haproxy);

        JsonElement proxy = PeerAssert.AssertProxied(json, source, 2, port);
        Assert.Equal("localhost", proxy.GetProperty("authority").GetString());
        Assert.Equal("http/1.1", proxy.GetProperty("alpn").GetString());
        (ProxySslTlv ssl, Dictionary<int, byte[]> sub) = DecodeSsl(proxy);
        return (ssl, sub, Describe(proxy, ssl, sub));
    }

    private static void AssertClientCertificateVerified(ProxySslTlv ssl, Dictionary<int, byte[]> sub, string dump)
    {
        Assert.True(ssl.IsTls, dump);
        Assert.True((ssl.Client & ProxySslClient.CertificateOnConnection) != 0, dump);
        Assert.True(ssl.Verify == 0, dump);
        Assert.True(ssl.IsClientCertificateVerified, dump);
        Assert.Contains(Ascii(sub, 0x21), (string[])["TLSv1.2", "TLSv1.3"]);
        Assert.Equal(TestCertificates.ClientCommonName, Ascii(sub, 0x22));
    }

    /// <summary>
    /// Rebuilds a v2 header around the reported PP2_TYPE_SSL value with our writer, parses it back with our parser
    /// and returns it (its buffer is a heap array, so it outlives the call) with the sub-TLVs by type.
    /// </summary>
    private static (ProxySslTlv Ssl, Dictionary<int, byte[]> SubTlvs) DecodeSsl(JsonElement proxy)
    {
        string types = TlvTypes(proxy);
        JsonElement? tlv = proxy.GetProperty("tlvs").EnumerateArray()
            .Select(t => (JsonElement?)t)
            .FirstOrDefault(t => t!.Value.GetProperty("type").GetInt32() == 0x20);
        Assert.True(tlv.HasValue, $"no PP2_TYPE_SSL (0x20) TLV; TLV types sent: [{types}]");
        byte[] value = Convert.FromBase64String(tlv.Value.GetProperty("value").GetString()!);

        byte[] buffer = new byte[ProxyHeaderParser.V2FixedLength + 12 + 3 + value.Length];
        var writer = ProxyV2HeaderWriter.Proxy(buffer, IPAddress.Loopback, 1, IPAddress.Loopback, 2);
        writer.AddTlv(0x20, value);
        int length = writer.Complete();
        ProxyParseStatus status = ProxyHeaderParser.Parse(
            new ReadOnlySequence<byte>(buffer, 0, length), out ProxyHeader header, out ProxyParseError error);
        Assert.True(status == ProxyParseStatus.Complete, $"{status} {error}; TLV types sent: [{types}]");
        Assert.True(header.TryGetSsl(out ProxySslTlv ssl), $"TryGetSsl failed; TLV types sent: [{types}]");

        var sub = new Dictionary<int, byte[]>();
        foreach (ProxyTlv t in ssl.SubTlvs)
        {
            sub[t.Type] = t.Value.ToArray();
        }

        // The typed accessors agree with the enumeration.
        Assert.Equal(ssl.TryGetVersion(out ReadOnlySequence<byte> version), sub.ContainsKey(0x21));
        Assert.Equal(ssl.TryGetCommonName(out ReadOnlySequence<byte> cn), sub.ContainsKey(0x22));
        Assert.Equal(ssl.TryGetCipher(out _), sub.ContainsKey(0x23));
        if (sub.TryGetValue(0x21, out byte[]? versionBytes))
        {
            Assert.Equal(versionBytes, version.ToArray());
        }

        if (sub.TryGetValue(0x22, out byte[]? cnBytes))
        {
            Assert.Equal(cnBytes, cn.ToArray());
        }

        Assert.Equal(ssl.IsTls, (ssl.Client & ProxySslClient.Ssl) != 0);
        return (ssl, sub);
    }

    private static string TlvTypes(JsonElement proxy) =>
        string.Join(", ", proxy.GetProperty("tlvs").EnumerateArray().Select(t => "0x" + t.GetProperty("type").GetInt32().ToString("X2", System.Globalization.CultureInfo.InvariantCulture)));

    private static string? Ascii(Dictionary<int, byte[]> sub, int type) =>
        sub.TryGetValue(type, out byte[]? v) ? Encoding.UTF8.GetString(v) : null;

    private static string Describe(JsonElement proxy, ProxySslTlv ssl, Dictionary<int, byte[]> sub)
    {
        string types = TlvTypes(proxy);
        string subs = string.Join(", ", sub.Select(kv => $"0x{kv.Key:X2}={Encoding.UTF8.GetString(kv.Value)}"));
        return $"TLV types: [{types}]; SSL client={ssl.Client} verify={ssl.Verify}; sub-TLVs: [{subs}]";
    }

    private static async Task<JsonElement> GetOverTlsAsync(
        int port, string source, TestCertificates certificates, bool withClientCertificate, WebAppProcess app, PeerProcess haproxy)
    {
        using var cts = new CancellationTokenSource(PeerAssert.Timeout);
        using Socket socket = await RawHttpClient.ConnectAsync(port, source);
        await using var stream = new NetworkStream(socket, ownsSocket: false);
        await using var tls = new SslStream(stream, leaveInnerStreamOpen: false);
        var options = new SslClientAuthenticationOptions
        {
            TargetHost = "localhost",
            ApplicationProtocols = [SslApplicationProtocol.Http11],
            RemoteCertificateValidationCallback = (_, certificate, _, errors) => certificates.ValidateServer(certificate, errors),
            CertificateRevocationCheckMode = X509RevocationMode.NoCheck,
        };
        if (withClientCertificate)
        {
            options.ClientCertificates = [certificates.Client];
        }

        string response;
        try
        {
            await tls.AuthenticateAsClientAsync(options, cts.Token);
            await tls.WriteAsync("GET / HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n"u8.ToArray(), cts.Token);
            await tls.FlushAsync(cts.Token);
            response = await ReadToEndAsync(tls, cts.Token);
        }
        catch (Exception e) when (e is AuthenticationException or IOException or OperationCanceledException)
        {
            throw new InvalidOperationException(
                $"TLS exchange failed: {e.Message}\n--- WebApp output ---\n{app.Output}\n--- haproxy output ---\n{haproxy.Output}", e);
        }

        return PeerAssert.Parse(response, app, haproxy.Name, haproxy.Output);
    }

    private static async Task<string> ReadToEndAsync(SslStream tls, CancellationToken cancellationToken)
    {
        var received = new MemoryStream();
        byte[] buffer = new byte[8192];
        try
        {
            int n;
            while ((n = await tls.ReadAsync(buffer, cancellationToken)) > 0)
            {
                received.Write(buffer, 0, n);
            }
        }
        catch (IOException) when (received.Length > 0)
        {
            // Closed without close_notify after the response: what arrived stands.
        }

        return Encoding.UTF8.GetString(received.ToArray());
    }
}
