using System.Net;

namespace ProxyKestrel.ProxyProtocol.Tests.Receiving;

/// <summary>Builds datagrams (a v2 header written by <see cref="ProxyV2HeaderWriter"/>, then a payload) for the datagram tests.</summary>
internal static class DatagramBytes
{
    public delegate void AddTlvs(ref ProxyV2HeaderWriter writer);

    public static readonly IPEndPoint Loopback = new(IPAddress.Loopback, 40000);

    public static readonly IPEndPoint Untrusted = new(IPAddress.Parse("192.0.2.1"), 40000);

    /// <summary>A PROXY header for <paramref name="source"/> → <paramref name="destination"/> followed by <paramref name="payload"/>.</summary>
    public static byte[] Proxy(IPEndPoint source, IPEndPoint destination, ReadOnlySpan<byte> payload, ProxyTransport transport = ProxyTransport.Datagram, AddTlvs? tlvs = null)
    {
        byte[] buffer = new byte[1024 + payload.Length];
        var writer = ProxyV2HeaderWriter.Proxy(buffer, source.Address, source.Port, destination.Address, destination.Port, transport);
        tlvs?.Invoke(ref writer);
        int length = writer.Complete();
        payload.CopyTo(buffer.AsSpan(length));
        return buffer[..(length + payload.Length)];
    }

    /// <summary>The usual UDP4 datagram: 192.0.2.7:4242 → 198.51.100.1:53.</summary>
    public static byte[] Udp4(ReadOnlySpan<byte> payload, AddTlvs? tlvs = null) =>
        Proxy(new IPEndPoint(IPAddress.Parse("192.0.2.7"), 4242), new IPEndPoint(IPAddress.Parse("198.51.100.1"), 53), payload, ProxyTransport.Datagram, tlvs);

    /// <summary>The length of the header at the start of <paramref name="datagram"/> (its announced length + 16).</summary>
    public static int HeaderLength(byte[] datagram) => ProxyHeaderParser.V2FixedLength + ((datagram[14] << 8) | datagram[15]);

    public static ProxyDatagramReceiver Receiver(ProxyProtocolMode mode = ProxyProtocolMode.Required, UntrustedPeerBehavior untrusted = UntrustedPeerBehavior.Reject) =>
        ProxyDatagramReceiver.Create(new ProxyProtocolOptions { Mode = mode, UntrustedPeers = untrusted });
}
