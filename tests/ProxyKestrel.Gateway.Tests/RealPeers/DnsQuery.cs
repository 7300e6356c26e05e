using System.Buffers.Binary;
using System.Net;
using System.Net.Sockets;
using System.Text;

namespace ProxyKestrel.Gateway.Tests.RealPeers;

/// <summary>
/// A minimal DNS client for the real-peer tests: builds an A query (RFC 1035 section 4), reads the RCODE and the
/// first A record of a response, and exchanges one datagram over UDP from a chosen loopback address (127.0.0.N),
/// optionally prefixed by a PROXY v2 header for a datagram transport (family UDP4, 0x12) written with the codec's
/// <see cref="ProxyV2HeaderWriter"/>: what unbound's <c>proxy-protocol-port</c> and PowerDNS Recursor's
/// <c>proxy-protocol-from</c> expect, and what the gateway will send to a UDP backend.
/// </summary>
internal static class DnsQuery
{
    private const int HeaderLength = 12;
    private const ushort TypeA = 1;
    private const ushort ClassIn = 1;

    /// <summary>
    /// An A/IN query for <paramref name="name"/> (absolute or not) with <paramref name="id"/> and recursion desired:
    /// the 12-byte header (id, flags 0x0100, one question), the name as labels ending in a zero byte, QTYPE and QCLASS.
    /// </summary>
    public static byte[] BuildA(string name, ushort id)
    {
        ArgumentException.ThrowIfNullOrEmpty(name);
        string[] labels = name.TrimEnd('.').Split('.');
        var message = new List<byte>(HeaderLength + name.Length + 6);
        Span<byte> header = stackalloc byte[HeaderLength];
        BinaryPrimitives.WriteUInt16BigEndian(header, id);
        BinaryPrimitives.WriteUInt16BigEndian(header[2..], 0x0100);
        BinaryPrimitives.WriteUInt16BigEndian(header[4..], 1);
        message.AddRange(header);
        foreach (string label in labels)
        {
            byte[] bytes = Encoding.ASCII.GetBytes(label);
            if (bytes.Length is 0 or > 63)
            {
                throw new ArgumentException($"'{name}': a label holds 1 to 63 bytes", nameof(name));
            }

            message.Add((byte)bytes.Length);
            message.AddRange(bytes);
        }

        message.Add(0);
        Span<byte> question = stackalloc byte[4];
        BinaryPrimitives.WriteUInt16BigEndian(question, TypeA);
        BinaryPrimitives.WriteUInt16BigEndian(question[2..], ClassIn);
        message.AddRange(question);
        return [.. message];
    }

    /// <summary>
    /// Reads a response: its id, RCODE and first A/IN record. Throws a <see cref="FormatException"/> for a query
    /// (QR bit clear) or a message cut short.
    /// </summary>
    public static DnsAnswer Parse(ReadOnlySpan<byte> message)
    {
        if (message.Length < HeaderLength)
        {
            throw new FormatException($"a DNS message has a 12-byte header; got {message.Length} bytes");
        }

        ushort id = BinaryPrimitives.ReadUInt16BigEndian(message);
        ushort flags = BinaryPrimitives.ReadUInt16BigEndian(message[2..]);
        if ((flags & 0x8000) == 0)
        {
            throw new FormatException("not a response (QR bit clear)");
        }

        int questions = BinaryPrimitives.ReadUInt16BigEndian(message[4..]);
        int answers = BinaryPrimitives.ReadUInt16BigEndian(message[6..]);
        int offset = HeaderLength;
        for (int i = 0; i < questions; i++)
        {
            offset = SkipName(message, offset) + 4;
        }

        for (int i = 0; i < answers; i++)
        {
            offset = SkipName(message, offset);
            ReadOnlySpan<byte> fixedPart = Slice(message, offset, 10);
            ushort type = BinaryPrimitives.ReadUInt16BigEndian(fixedPart);
            ushort @class = BinaryPrimitives.ReadUInt16BigEndian(fixedPart[2..]);
            int dataLength = BinaryPrimitives.ReadUInt16BigEndian(fixedPart[8..]);
            ReadOnlySpan<byte> data = Slice(message, offset + 10, dataLength);
            if (type == TypeA && @class == ClassIn && dataLength == 4)
            {
                return new DnsAnswer(id, flags & 0x000F, new IPAddress(data));
            }

            offset += 10 + dataLength;
        }

        return new DnsAnswer(id, flags & 0x000F, null);
    }

    /// <summary>
    /// A PROXY v2 PROXY-command header for a datagram transport between two endpoints (UDP4, 0x12, for two IPv4
    /// addresses), as the codec's writer makes it.
    /// </summary>
    public static byte[] ProxyV2DatagramHeader(IPEndPoint source, IPEndPoint destination)
    {
        ArgumentNullException.ThrowIfNull(source);
        ArgumentNullException.ThrowIfNull(destination);
        Span<byte> buffer = stackalloc byte[64];
        var writer = ProxyV2HeaderWriter.Proxy(buffer, source.Address, source.Port, destination.Address, destination.Port, ProxyTransport.Datagram);
        int length = writer.Complete();
        return buffer[..length].ToArray();
    }

    /// <summary>
    /// Sends an A query for <paramref name="name"/> with <paramref name="id"/> from <paramref name="from"/> (a
    /// loopback address; the port is the kernel's) to 127.0.0.1:<paramref name="port"/>, prefixed, when
    /// <paramref name="headerClient"/> is set, by a v2 datagram header naming <paramref name="headerClient"/> with the
    /// socket's own port as the source and 127.0.0.1:<paramref name="port"/> as the destination. Returns the first
    /// response with that id, or null when none comes within <paramref name="timeout"/> (a dropped datagram).
    /// </summary>
    public static async Task<DnsAnswer?> ExchangeAsync(string from, int port, string name, ushort id, string? headerClient, TimeSpan timeout)
    {
        using var socket = new Socket(AddressFamily.InterNetwork, SocketType.Dgram, ProtocolType.Udp);
        socket.Bind(new IPEndPoint(IPAddress.Parse(from), 0));
        var server = new IPEndPoint(IPAddress.Loopback, port);
        byte[] query = BuildA(name, id);
        if (headerClient is not null)
        {
            int localPort = ((IPEndPoint)socket.LocalEndPoint!).Port;
            query = [.. ProxyV2DatagramHeader(new IPEndPoint(IPAddress.Parse(headerClient), localPort), server), .. query];
        }

        await socket.SendToAsync(query, server);
        using var cts = new CancellationTokenSource(timeout);
        var buffer = new byte[4096];
        try
        {
            while (true)
            {
                SocketReceiveFromResult received = await socket.ReceiveFromAsync(buffer, new IPEndPoint(IPAddress.Any, 0), cts.Token);
                DnsAnswer answer = Parse(buffer.AsSpan(0, received.ReceivedBytes));
                if (answer.Id == id)
                {
                    return answer;
                }
            }
        }
        catch (OperationCanceledException) when (cts.IsCancellationRequested)
        {
            return null;
        }
    }

    /// <summary>The offset just past the (possibly compressed) name at <paramref name="offset"/>.</summary>
    private static int SkipName(ReadOnlySpan<byte> message, int offset)
    {
        while (true)
        {
            byte length = Slice(message, offset, 1)[0];
            if (length == 0)
            {
                return offset + 1;
            }

            if ((length & 0xC0) == 0xC0)
            {
                // A pointer (two bytes) ends the name.
                _ = Slice(message, offset, 2);
                return offset + 2;
            }

            if ((length & 0xC0) != 0)
            {
                throw new FormatException($"label type 0x{length & 0xC0:X2} at offset {offset}");
            }

            offset += 1 + length;
        }
    }

    private static ReadOnlySpan<byte> Slice(ReadOnlySpan<byte> message, int offset, int length) =>
        offset + length <= message.Length
            ? message.Slice(offset, length)
            : throw new FormatException($"the message ends at {message.Length} bytes, before offset {offset + length}");
}
