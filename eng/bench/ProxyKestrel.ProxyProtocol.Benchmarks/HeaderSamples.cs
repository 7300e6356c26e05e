using System.Net;
using System.Text;

namespace ProxyKestrel.ProxyProtocol.Benchmarks;

/// <summary>The endpoints and header bytes shared by the parse and write benchmarks.</summary>
internal static class HeaderSamples
{
    /// <summary>Application bytes that follow the header in every parse input (the parser must not read them).</summary>
    public static readonly byte[] ApplicationBytes = Encoding.ASCII.GetBytes("GET / HTTP/1.1\r\nHost: example.com\r\n\r\n");

    public static readonly IPEndPoint Source4 = new(IPAddress.Parse("192.168.100.200"), 56324);
    public static readonly IPEndPoint Destination4 = new(IPAddress.Parse("10.0.0.1"), 443);
    public static readonly IPEndPoint Source6 = new(IPAddress.Parse("2001:db8:85a3::8a2e:370:7334"), 56324);
    public static readonly IPEndPoint Destination6 = new(IPAddress.Parse("2001:db8:1234:5678:9abc:def0:1:2"), 443);

    public static readonly byte[] Alpn = "h2"u8.ToArray();
    public static readonly byte[] Authority = "api.example.com"u8.ToArray();
    public static readonly byte[] UniqueId = Encoding.ASCII.GetBytes("4f3c2b1a-0e9d-4c8b-a7f6-5e4d3c2b1a09");
    public static readonly byte[] SslVersion = "TLSv1.3"u8.ToArray();
    public static readonly byte[] SslCipher = "TLS_AES_128_GCM_SHA256"u8.ToArray();
    public static readonly byte[] SslCommonName = "client.example.com"u8.ToArray();

    /// <summary>Writes the v2 TCP6 header with ALPN, AUTHORITY, UNIQUE_ID, SSL (three sub-TLVs) and CRC32C.</summary>
    public static int WriteV2Tcp6WithTlvs(Span<byte> destination)
    {
        var writer = ProxyV2HeaderWriter.Proxy(destination, Source6.Address, Source6.Port, Destination6.Address, Destination6.Port);
        writer.AddAlpn(Alpn);
        writer.AddAuthority(Authority);
        writer.AddUniqueId(UniqueId);
        writer.BeginSsl(ProxySslClient.Ssl | ProxySslClient.CertificateOnConnection, 0);
        writer.AddSslSubTlv(ProxyTlvType.SslVersion, SslVersion);
        writer.AddSslSubTlv(ProxyTlvType.SslCipher, SslCipher);
        writer.AddSslSubTlv(ProxyTlvType.SslCommonName, SslCommonName);
        writer.EndSsl();
        writer.AddCrc32C();
        return writer.Complete();
    }

    public static byte[] V1(IPEndPoint source, IPEndPoint destination)
    {
        var buffer = new byte[ProxyHeaderWriter.V1MaxLength];
        int length = ProxyHeaderWriter.WriteV1(buffer, source, destination);
        return WithApplicationBytes(buffer.AsSpan(0, length));
    }

    public static byte[] V2(IPEndPoint source, IPEndPoint destination)
    {
        var buffer = new byte[ProxyHeaderParser.V2FixedLength + 36];
        var writer = ProxyV2HeaderWriter.Proxy(buffer, source.Address, source.Port, destination.Address, destination.Port);
        int length = writer.Complete();
        return WithApplicationBytes(buffer.AsSpan(0, length));
    }

    public static byte[] V2Tcp6WithTlvs(out int headerLength)
    {
        var buffer = new byte[1024];
        headerLength = WriteV2Tcp6WithTlvs(buffer);
        return WithApplicationBytes(buffer.AsSpan(0, headerLength));
    }

    private static byte[] WithApplicationBytes(ReadOnlySpan<byte> header)
    {
        var input = new byte[header.Length + ApplicationBytes.Length];
        header.CopyTo(input);
        ApplicationBytes.CopyTo(input.AsSpan(header.Length));
        return input;
    }
}
