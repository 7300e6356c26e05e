using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;

namespace ProxyKestrel.Gateway.Tests.Mail.Front;

/// <summary>A throwaway self-signed certificate for <c>mail.example.test</c> as PEM files, for a mail route's <c>Tls</c>.</summary>
internal sealed class MailFrontCertificate : IDisposable
{
    private readonly string _directory;

    private MailFrontCertificate(string directory)
    {
        _directory = directory;
        CertificatePath = Path.Combine(directory, "mail.crt");
        KeyPath = Path.Combine(directory, "mail.key");
    }

    /// <summary>The PEM certificate file.</summary>
    public string CertificatePath { get; }

    /// <summary>The PEM private key file.</summary>
    public string KeyPath { get; }

    /// <summary>Makes the certificate (EC P-256, valid for a day) and writes both files.</summary>
    public static MailFrontCertificate Create()
    {
        var files = new MailFrontCertificate(TempDirectory.Create("mail-tls"));
        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var request = new CertificateRequest("CN=mail.example.test", key, HashAlgorithmName.SHA256);
        var names = new SubjectAlternativeNameBuilder();
        names.AddDnsName("mail.example.test");
        request.CertificateExtensions.Add(names.Build());
        using X509Certificate2 certificate = request.CreateSelfSigned(DateTimeOffset.UtcNow.AddMinutes(-5), DateTimeOffset.UtcNow.AddDays(1));
        File.WriteAllText(files.CertificatePath, certificate.ExportCertificatePem());
        File.WriteAllText(files.KeyPath, key.ExportPkcs8PrivateKeyPem());
        return files;
    }

    public void Dispose() => TempDirectory.TryDelete(_directory);
}
