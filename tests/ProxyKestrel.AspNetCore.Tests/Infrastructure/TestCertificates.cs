using System.Net;
using System.Net.Security;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;

namespace ProxyKestrel.AspNetCore.Tests.Infrastructure;

/// <summary>
/// Test certificates made in memory. <see cref="CreateSelfSigned"/>: a lone self-signed server certificate for
/// localhost / 127.0.0.1. <see cref="Create"/>: a throw-away PKI made in memory for one test: a CA (ECDSA P-256), a server certificate (RSA 2048) for localhost /
/// 127.0.0.1 and a client certificate (ECDSA P-256) for <see cref="ClientCommonName"/>, both signed by the CA (so
/// their key algorithms tell them apart). <see cref="WritePem"/> writes
/// what a TLS-terminating peer needs (HAProxy's <c>crt</c> takes certificate + PKCS#8 key in one file).
/// </summary>
public sealed class TestCertificates : IDisposable
{
    /// <summary>The client certificate's subject common name.</summary>
    public const string ClientCommonName = "client.example";

    private static readonly Oid ServerAuth = new("1.3.6.1.5.5.7.3.1");
    private static readonly Oid ClientAuth = new("1.3.6.1.5.5.7.3.2");

    private TestCertificates(X509Certificate2 ca, X509Certificate2 server, X509Certificate2 client)
    {
        Ca = ca;
        Server = server;
        Client = client;
    }

    /// <summary>The self-signed CA, with its private key.</summary>
    public X509Certificate2 Ca { get; }

    /// <summary>The server certificate (SAN DNS localhost, IP 127.0.0.1), with its private key.</summary>
    public X509Certificate2 Server { get; }

    /// <summary>The client certificate (CN client.example), with its private key, loaded from PKCS#12 so SslStream can use it.</summary>
    public X509Certificate2 Client { get; }

    /// <summary>Creates the CA and the two leaf certificates, valid from an hour ago for a day.</summary>
    public static TestCertificates Create()
    {
        DateTimeOffset notBefore = DateTimeOffset.UtcNow.AddHours(-1);
        DateTimeOffset notAfter = notBefore.AddDays(1);

        using var caKey = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var caRequest = new CertificateRequest("CN=ProxyKestrel Test CA", caKey, HashAlgorithmName.SHA256);
        caRequest.CertificateExtensions.Add(new X509BasicConstraintsExtension(true, false, 0, true));
        caRequest.CertificateExtensions.Add(
            new X509KeyUsageExtension(X509KeyUsageFlags.KeyCertSign | X509KeyUsageFlags.CrlSign, true));
        caRequest.CertificateExtensions.Add(new X509SubjectKeyIdentifierExtension(caRequest.PublicKey, false));
        X509Certificate2 ca = caRequest.CreateSelfSigned(notBefore, notAfter.AddDays(1));

        using var serverKey = RSA.Create(2048);
        X509Certificate2 server = CreateLeaf(
            ca, LocalhostServerRequest(serverKey), serverKey, ServerAuth, LocalhostSan(), notBefore, notAfter, 1);
        using var clientKey = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        X509Certificate2 client = CreateLeaf(
            ca, new CertificateRequest("CN=" + ClientCommonName, clientKey, HashAlgorithmName.SHA256), clientKey, ClientAuth, null, notBefore, notAfter, 2);
        return new TestCertificates(ca, server, client);
    }

    /// <summary>
    /// A self-signed server certificate (RSA 2048, CN and SAN DNS localhost, SAN IP 127.0.0.1, server authentication),
    /// with its private key, valid from five minutes ago for a day.
    /// </summary>
    public static X509Certificate2 CreateSelfSigned()
    {
        using var rsa = RSA.Create(2048);
        CertificateRequest request = LocalhostServerRequest(rsa);
        request.CertificateExtensions.Add(LocalhostSan());
        request.CertificateExtensions.Add(new X509EnhancedKeyUsageExtension([ServerAuth], critical: false));
        using X509Certificate2 created = request.CreateSelfSigned(DateTimeOffset.UtcNow.AddMinutes(-5), DateTimeOffset.UtcNow.AddDays(1));

        // Re-import so that the private key is usable by SslStream on every platform.
        return X509CertificateLoader.LoadPkcs12(created.Export(X509ContentType.Pfx), null);
    }

    /// <summary>Writes <c>server.pem</c> (certificate + PKCS#8 key) and <c>ca.pem</c> into <paramref name="directory"/>.</summary>
    public void WritePem(string directory)
    {
        using RSA key = Server.GetRSAPrivateKey() ?? throw new InvalidOperationException("server certificate without key");
        File.WriteAllText(
            Path.Combine(directory, "server.pem"),
            Server.ExportCertificatePem() + "\n" + key.ExportPkcs8PrivateKeyPem() + "\n");
        File.WriteAllText(Path.Combine(directory, "ca.pem"), Ca.ExportCertificatePem() + "\n");
    }

    /// <summary>
    /// A server-certificate check that accepts exactly a chain ending at <see cref="Ca"/> with the host name matching
    /// (not an accept-all).
    /// </summary>
    public bool ValidateServer(X509Certificate? certificate, SslPolicyErrors errors)
    {
        if (certificate is null || (errors & ~SslPolicyErrors.RemoteCertificateChainErrors) != SslPolicyErrors.None)
        {
            return false;
        }

        using var chain = new X509Chain();
        chain.ChainPolicy.TrustMode = X509ChainTrustMode.CustomRootTrust;
        chain.ChainPolicy.CustomTrustStore.Add(Ca);
        chain.ChainPolicy.RevocationMode = X509RevocationMode.NoCheck;
        using var leaf = X509CertificateLoader.LoadCertificate(certificate.GetRawCertData());
        if (!chain.Build(leaf))
        {
            return false;
        }

        X509Certificate2 root = chain.ChainElements[^1].Certificate;
        return root.RawDataMemory.Span.SequenceEqual(Ca.RawDataMemory.Span);
    }

    public void Dispose()
    {
        Client.Dispose();
        Server.Dispose();
        Ca.Dispose();
    }

    private static X509Certificate2 CreateLeaf(
        X509Certificate2 ca,
        CertificateRequest request,
        AsymmetricAlgorithm key,
        Oid usage,
        X509Extension? san,
        DateTimeOffset notBefore,
        DateTimeOffset notAfter,
        byte serial)
    {
        request.CertificateExtensions.Add(new X509BasicConstraintsExtension(false, false, 0, true));
        request.CertificateExtensions.Add(new X509KeyUsageExtension(X509KeyUsageFlags.DigitalSignature, true));
        request.CertificateExtensions.Add(new X509EnhancedKeyUsageExtension([usage], false));
        request.CertificateExtensions.Add(new X509SubjectKeyIdentifierExtension(request.PublicKey, false));
        request.CertificateExtensions.Add(X509AuthorityKeyIdentifierExtension.CreateFromCertificate(ca, true, false));
        if (san is not null)
        {
            request.CertificateExtensions.Add(san);
        }

        // Through a signature generator: the CA's key (ECDSA) need not be of the leaf's algorithm.
        using ECDsa caKey = ca.GetECDsaPrivateKey() ?? throw new InvalidOperationException("CA without key");
        using X509Certificate2 signed = request.Create(
            ca.SubjectName, X509SignatureGenerator.CreateForECDsa(caKey), notBefore, notAfter, [0x01, serial]);
        using X509Certificate2 withKey = key switch
        {
            RSA rsa => signed.CopyWithPrivateKey(rsa),
            ECDsa ecdsa => signed.CopyWithPrivateKey(ecdsa),
            _ => throw new ArgumentException("RSA or ECDSA keys only", nameof(key)),
        };
        // Through PKCS#12 so the key is a persisted one SslStream can use on every platform.
        return X509CertificateLoader.LoadPkcs12(withKey.Export(X509ContentType.Pfx), null);
    }

    private static CertificateRequest LocalhostServerRequest(RSA key) =>
        new("CN=localhost", key, HashAlgorithmName.SHA256, RSASignaturePadding.Pkcs1);

    private static X509Extension LocalhostSan()
    {
        var san = new SubjectAlternativeNameBuilder();
        san.AddDnsName("localhost");
        san.AddIpAddress(IPAddress.Loopback);
        return san.Build();
    }
}
