using System.Text.Json;
using ProxyKestrel.Gateway.Tests.RealPeers;

namespace ProxyKestrel.Gateway.Tests.Mail.Front;

/// <summary>The gateway configurations of the mail front's tests: one mail route, clusters of Dovecot listeners that take a PROXY v2 header.</summary>
internal static class MailFrontConfig
{
    /// <summary>
    /// An IMAP route on <paramref name="port"/>: users A–M to imap1 (<paramref name="imap1"/>), N–Z to imap2
    /// (<paramref name="imap2"/>, or <paramref name="imap2Port"/> for a backend that is down); the default cluster is imap1.
    /// </summary>
    public static string Imap(
        int port,
        DovecotPeer imap1,
        DovecotPeer? imap2 = null,
        int? imap2Port = null,
        string failedLoginDelay = "00:00:00",
        bool allowPlaintext = true,
        MailFrontCertificate? tls = null,
        bool implicitTls = false,
        string? authHttp = null) =>
        Route("Imap", port, imap1.ImapPort, imap2?.ImapPort ?? imap2Port!.Value, failedLoginDelay, allowPlaintext, tls, implicitTls, authHttp);

    /// <summary>The same for POP3.</summary>
    public static string Pop3(int port, DovecotPeer pop1, DovecotPeer pop2, string? authHttp = null) =>
        Route("Pop3", port, pop1.Pop3Port, pop2.Pop3Port, "00:00:00", allowPlaintext: true, tls: null, implicitTls: false, authHttp);

    /// <summary>An SMTP submission route: users A–M to <paramref name="submission1"/>, N–Z to <paramref name="submission2"/> (ports).</summary>
    public static string Smtp(int port, int submission1, int submission2) =>
        Route("Smtp", port, submission1, submission2, "00:00:00", allowPlaintext: true, tls: null, implicitTls: false, authHttp: null);

    private static string Route(string protocol, int port, int backend1, int backend2, string failedLoginDelay, bool allowPlaintext, MailFrontCertificate? tls, bool implicitTls, string? authHttp)
    {
        string rules = authHttp is null
            ? """ "Users": [ { "Match": "^[a-m]", "ClusterId": "mail1" }, { "Match": "^[n-z]", "ClusterId": "mail2" } ], """
            : $""" "AuthHttp": {JsonSerializer.Serialize(authHttp)}, """;
        string tlsJson = tls is null
            ? ""
            : "\"Tls\": { \"CertificatePath\": " + JsonSerializer.Serialize(tls.CertificatePath) + ", \"KeyPath\": " + JsonSerializer.Serialize(tls.KeyPath)
                + ", \"Implicit\": " + (implicitTls ? "true" : "false") + " }, ";
        string route = protocol.ToLowerInvariant();
        return $$"""
            {
              "ReverseProxy": { "Clusters": {
                "mail1": { "Metadata": { "ProxyProtocol": "v2" }, "Destinations": { "d": { "Address": "tcp://127.0.0.1:{{backend1}}" } } },
                "mail2": { "Metadata": { "ProxyProtocol": "v2" }, "Destinations": { "d": { "Address": "tcp://127.0.0.1:{{backend2}}" } } } } },
              "TcpProxy": { "Routes": {
                "{{route}}": { "Listen": "127.0.0.1:{{port}}", "Protocol": "{{protocol}}", "ClusterId": "mail1", {{rules}} {{tlsJson}}
                  "AllowPlaintextLogin": {{(allowPlaintext ? "true" : "false")}}, "FailedLoginDelay": "{{failedLoginDelay}}", "ServerName": "mail.example.test" } } }
            }
            """;
    }
}
