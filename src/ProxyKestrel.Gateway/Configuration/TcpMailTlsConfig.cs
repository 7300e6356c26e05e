using System.Security.Cryptography.X509Certificates;

namespace ProxyKestrel.Gateway.Configuration;

/// <summary>
/// The certificate of a mail route's front (<see cref="TcpRouteConfig.Tls"/>), and whether TLS starts with the first
/// byte or is offered by STARTTLS / STLS.
/// </summary>
public sealed record TcpMailTlsConfig
{
    /// <summary>
    /// The certificate file: PEM (with <see cref="KeyPath"/>) or PKCS#12 / PFX (without it, key included). Required.
    /// </summary>
    public string? CertificatePath { get; init; }

    /// <summary>The PEM private key file of <see cref="CertificatePath"/>; null: the certificate file is a PFX.</summary>
    public string? KeyPath { get; init; }

    /// <summary>The PFX's password, or the password of an encrypted PEM key; null: none.</summary>
    public string? CertificatePassword { get; init; }

    /// <summary>
    /// True: TLS from the first byte (IMAPS, POP3S, SMTP submissions on 993, 995, 465). False (the default): the
    /// connection starts plain and the front offers STARTTLS (IMAP, SMTP) or STLS (POP3).
    /// </summary>
    public bool Implicit { get; init; }

    /// <summary>
    /// Loads the certificate with its private key: <see cref="X509Certificate2.CreateFromPemFile(string, string?)"/>
    /// (or <see cref="X509Certificate2.CreateFromEncryptedPemFile"/> with <see cref="CertificatePassword"/>) when
    /// <see cref="KeyPath"/> is set, else <see cref="X509CertificateLoader.LoadPkcs12FromFile(string, string?, X509KeyStorageFlags, Pkcs12LoaderLimits?)"/>.
    /// The caller disposes it.
    /// </summary>
    /// <exception cref="InvalidOperationException"><see cref="CertificatePath"/> is not set, or the certificate has no private key.</exception>
    /// <exception cref="System.Security.Cryptography.CryptographicException">A file is not a certificate or key, or the password is wrong.</exception>
    /// <exception cref="IOException">A file cannot be read.</exception>
    internal X509Certificate2 LoadCertificate()
    {
        if (string.IsNullOrWhiteSpace(CertificatePath))
        {
            throw new InvalidOperationException("CertificatePath is not set.");
        }

        X509Certificate2 certificate = KeyPath is null
            ? X509CertificateLoader.LoadPkcs12FromFile(CertificatePath, CertificatePassword)
            : CertificatePassword is null
                ? X509Certificate2.CreateFromPemFile(CertificatePath, KeyPath)
                : X509Certificate2.CreateFromEncryptedPemFile(CertificatePath, CertificatePassword, KeyPath);
        if (!certificate.HasPrivateKey)
        {
            certificate.Dispose();
            throw new InvalidOperationException("the certificate has no private key.");
        }

        return certificate;
    }
}
