using System.Buffers;
using System.Net;
using System.Text;
using ProxyKestrel.ProxyProtocol;

namespace ProxyKestrel.AspNetCore;

/// <summary>
/// The connection feature built from an accepted header. A v2 header with TLVs is copied once into an array owned
/// by the feature; TLV values are slices of that copy, decoded only when asked for.
/// </summary>
internal sealed class ProxyProtocolFeature : IProxyProtocolFeature
{
    private static readonly ProxyHeaderParserOptions OwnedCopyOptions = new() { MaxHeaderSize = ProxyHeaderParserOptions.MaxMaxHeaderSize };
    private readonly ProxyHeader _owned;
    private readonly bool _hasTlvs;
    private IReadOnlyList<ProxyProtocolTlv>? _tlvs;
    private ProxyProtocolSslInfo? _ssl;
    private bool _sslRead;

    public ProxyProtocolFeature(in ProxyHeader header, EndPoint? proxyEndPoint, EndPoint? socketLocalEndPoint)
    {
        Version = header.Version;
        Command = header.Command;
        AddressFamily = header.AddressFamily;
        Transport = header.Transport;
        Source = header.GetSourceEndPoint();
        Destination = header.GetDestinationEndPoint();
        ProxyEndPoint = proxyEndPoint;
        SocketLocalEndPoint = socketLocalEndPoint;
        _hasTlvs = !header.Tlvs.IsEmpty;
        if (_hasTlvs)
        {
            // The header's bytes belong to the pipe and are released once consumed: keep one copy.
            byte[] copy = header.RawBytes.ToArray();
            ProxyHeaderParser.Parse(new ReadOnlySequence<byte>(copy), OwnedCopyOptions, out _owned, out _);
        }
    }

    public ProxyProtocolVersion Version { get; }

    public ProxyCommand Command { get; }

    public ProxyAddressFamily AddressFamily { get; }

    public ProxyTransport Transport { get; }

    public IPEndPoint? Source { get; }

    public IPEndPoint? Destination { get; }

    public EndPoint? ProxyEndPoint { get; }

    public EndPoint? SocketLocalEndPoint { get; }

    public IReadOnlyList<ProxyProtocolTlv> Tlvs => _tlvs ??= ReadTlvs();

    public ReadOnlyMemory<byte>? Alpn => _hasTlvs && _owned.TryGetAlpn(out ReadOnlySequence<byte> v) ? v.First : (ReadOnlyMemory<byte>?)null;

    public string? Authority => _hasTlvs && _owned.TryGetAuthority(out ReadOnlySequence<byte> v) ? Encoding.UTF8.GetString(v) : null;

    public ReadOnlyMemory<byte>? UniqueId => _hasTlvs && _owned.TryGetUniqueId(out ReadOnlySequence<byte> v) ? v.First : (ReadOnlyMemory<byte>?)null;

    public string? NetworkNamespace => _hasTlvs && _owned.TryGetNetworkNamespace(out ReadOnlySequence<byte> v) ? Encoding.ASCII.GetString(v) : null;

    public ProxyProtocolSslInfo? Ssl
    {
        get
        {
            if (!_sslRead)
            {
                _ssl = ReadSsl();
                _sslRead = true;
            }

            return _ssl;
        }
    }

    public string? AwsVpcEndpointId => _hasTlvs && _owned.TryGetAwsVpcEndpointId(out ReadOnlySequence<byte> v) ? Encoding.ASCII.GetString(v) : null;

    public uint? AzurePrivateLinkId => _hasTlvs && _owned.TryGetAzurePrivateLinkId(out uint id) ? id : null;

    public ulong? GcpPscConnectionId => _hasTlvs && _owned.TryGetGcpPscConnectionId(out ulong id) ? id : null;

    private List<ProxyProtocolTlv> ReadTlvs()
    {
        var list = new List<ProxyProtocolTlv>();
        if (_hasTlvs)
        {
            foreach (ProxyTlv tlv in _owned.Tlvs)
            {
                list.Add(new ProxyProtocolTlv(tlv.Type, tlv.Value.First));
            }
        }

        return list;
    }

    private ProxyProtocolSslInfo? ReadSsl()
    {
        if (!_hasTlvs || !_owned.TryGetSsl(out ProxySslTlv ssl))
        {
            return null;
        }

        return new ProxyProtocolSslInfo
        {
            Client = ssl.Client,
            Verify = ssl.Verify,
            Version = ssl.TryGetVersion(out ReadOnlySequence<byte> version) ? Encoding.ASCII.GetString(version) : null,
            CommonName = ssl.TryGetCommonName(out ReadOnlySequence<byte> cn) ? Encoding.UTF8.GetString(cn) : null,
            Cipher = ssl.TryGetCipher(out ReadOnlySequence<byte> cipher) ? Encoding.ASCII.GetString(cipher) : null,
            SignatureAlgorithm = ssl.TryGetSignatureAlgorithm(out ReadOnlySequence<byte> sig) ? Encoding.ASCII.GetString(sig) : null,
            KeyAlgorithm = ssl.TryGetKeyAlgorithm(out ReadOnlySequence<byte> key) ? Encoding.ASCII.GetString(key) : null,
            Group = ssl.TryGetGroup(out ReadOnlySequence<byte> group) ? Encoding.ASCII.GetString(group) : null,
            SignatureScheme = ssl.TryGetSignatureScheme(out ReadOnlySequence<byte> scheme) ? Encoding.ASCII.GetString(scheme) : null,
            ClientCertificate = ssl.TryGetClientCertificate(out ReadOnlySequence<byte> cert) ? cert.First : null,
        };
    }
}
