using System.Buffers;
using System.Buffers.Binary;
using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Text;

using ProxyKestrel.ProxyProtocol;

namespace ProxyKestrel.Testing;

/// <summary>One hostile prefix: the family it was generated from and its bytes.</summary>
internal sealed record GarbageInput(string Kind, byte[] Bytes);

/// <summary>
/// A deterministic, seeded generator of connection prefixes: random bytes, valid v1/v2 headers, truncated and mutated
/// ones (bit flips, byte substitutions, length fields changed), oversized v2 lengths, TLVs whose lengths lie, bad
/// CRC32C, v1 lines with bad ports/addresses/spaces. Whether each is valid is decided by the codec, not here.
/// </summary>
internal sealed class GarbageGenerator(int seed)
{
    private static readonly string[] BadPorts = ["65536", "0123", "-1", "", "99999", "1a", " 80", "+80", "00"];
    private static readonly string[] BadAddresses = ["256.1.2.3", "1.2.3", "01.2.3.4", "::1", "1.2.3.4.5", "a.b.c.d", "1..2.3", "", " 1.2.3.4"];
    private static readonly string[] Protocols = ["TCP4", "TCP6", "UNKNOWN", "tcp4", "TCP5", "UDP4", ""];
    private readonly Random _random = new(seed);

    public GarbageInput Next()
    {
        int pick = _random.Next(100);
        return pick switch
        {
            < 8 => new("random", RandomBytes(_random.Next(1, 160))),
            < 14 => new("random-after-signature", RandomAfterSignature()),
            < 24 => new("valid-v1", ValidV1()),
            < 36 => new("valid-v2", ValidV2(_random.Next(3) == 0)),
            < 46 => new("truncated", Truncate(ValidAny())),
            < 60 => new("mutated", Mutate(ValidAny())),
            < 66 => new("oversized-length", OversizedLength()),
            < 76 => new("lying-tlv", LyingTlv()),
            < 83 => new("bad-crc32c", BadCrc()),
            _ => new("bad-v1", BadV1()),
        };
    }

    /// <summary>A valid-looking header claiming an address outside loopback (for untrusted peers).</summary>
    public byte[] Claim() => _random.Next(2) == 0 ? ValidV1() : ValidV2(false);

    private byte[] RandomBytes(int length)
    {
        byte[] bytes = new byte[length];
        _random.NextBytes(bytes);
        return bytes;
    }

    private byte[] RandomAfterSignature()
    {
        byte[] start = _random.Next(2) == 0 ? ProxyHeaderParser.V1Prefix.ToArray() : ProxyHeaderParser.V2Signature.ToArray();
        return [.. start, .. RandomBytes(_random.Next(0, 120))];
    }

    private byte[] ValidAny() => _random.Next(2) == 0 ? ValidV1() : ValidV2(_random.Next(3) == 0);

    private IPAddress RandomV4()
    {
        byte[] a = RandomBytes(4);
        a[0] = (byte)_random.Next(1, 224);
        return new IPAddress(a);
    }

    private IPAddress RandomV6()
    {
        byte[] a = RandomBytes(16);
        a[0] = 0x20;
        return new IPAddress(a);
    }

    private byte[] ValidV1()
    {
        if (_random.Next(8) == 0)
        {
            byte[] unknown = new byte[ProxyHeaderWriter.V1MaxLength];
            return unknown[..ProxyHeaderWriter.WriteV1Unknown(unknown)];
        }

        bool v6 = _random.Next(3) == 0;
        byte[] line = new byte[ProxyHeaderWriter.V1MaxLength];
        if (!ProxyHeaderWriter.TryWriteV1(line, v6 ? RandomV6() : RandomV4(), _random.Next(1, 65536), v6 ? RandomV6() : RandomV4(), _random.Next(1, 65536), out int n))
        {
            throw new InvalidOperationException("a v1 line did not fit");
        }

        return line[..n];
    }

    private byte[] ValidV2(bool crc)
    {
        byte[] buffer = new byte[2048];
        int shape = _random.Next(10);
        var writer = shape switch
        {
            0 => ProxyV2HeaderWriter.Local(buffer),
            1 => ProxyV2HeaderWriter.ProxyUnix(buffer, "/run/a.sock"u8, "/run/b.sock"u8),
            < 5 => ProxyV2HeaderWriter.Proxy(buffer, RandomV6(), _random.Next(1, 65536), RandomV6(), _random.Next(1, 65536)),
            _ => ProxyV2HeaderWriter.Proxy(buffer, RandomV4(), _random.Next(1, 65536), RandomV4(), _random.Next(1, 65536)),
        };
        int tlvs = _random.Next(4);
        for (int i = 0; i < tlvs; i++)
        {
            switch (_random.Next(5))
            {
                case 0:
                    writer.AddAlpn("h2"u8);
                    break;
                case 1:
                    writer.AddAuthority("example.org");
                    break;
                case 2:
                    writer.AddNoop(_random.Next(0, 40));
                    break;
                case 3:
                    writer.AddUniqueId(RandomBytes(_random.Next(1, 129)));
                    break;
                default:
                    writer.AddTlv((byte)_random.Next(0xE0, 0x100), RandomBytes(_random.Next(0, 60)));
                    break;
            }
        }

        if (crc)
        {
            writer.AddCrc32C();
        }

        int length = writer.Complete();
        return buffer[..length];
    }

    private byte[] Truncate(byte[] valid) => valid[.._random.Next(1, valid.Length)];

    private byte[] Mutate(byte[] valid)
    {
        var bytes = new List<byte>(valid);
        int count = _random.Next(1, 4);
        for (int i = 0; i < count && bytes.Count > 0; i++)
        {
            int at = _random.Next(bytes.Count);
            switch (_random.Next(7))
            {
                case 0:
                    bytes[at] ^= (byte)(1 << _random.Next(8));
                    break;
                case 1:
                    bytes[at] = (byte)_random.Next(256);
                    break;
                case 2:
                    bytes[at] = " \r\n0:.9\0"u8[_random.Next(8)];
                    break;
                case 3:
                    bytes.RemoveAt(at);
                    break;
                case 4:
                    bytes.Insert(at, (byte)_random.Next(256));
                    break;
                default:
                    if (bytes.Count >= 16 && bytes[0] == 0x0D)
                    {
                        // The v2 length field: any value, or off by a little.
                        ushort length = BinaryPrimitives.ReadUInt16BigEndian([bytes[14], bytes[15]]);
                        ushort changed = _random.Next(2) == 0 ? (ushort)_random.Next(65536) : (ushort)(length + _random.Next(-8, 9));
                        bytes[14] = (byte)(changed >> 8);
                        bytes[15] = (byte)changed;
                    }
                    else
                    {
                        bytes[at] ^= 0x20;
                    }

                    break;
            }
        }

        return [.. bytes];
    }

    private byte[] OversizedLength()
    {
        byte[] fixedPart = [.. ProxyHeaderParser.V2Signature, 0x21, _random.Next(2) == 0 ? (byte)0x11 : (byte)0x21, 0, 0];
        ushort claim = (ushort)_random.Next(ProxyHeaderParserOptions.DefaultMaxHeaderSize - 16 + 1, 65536);
        BinaryPrimitives.WriteUInt16BigEndian(fixedPart.AsSpan(14), claim);
        return [.. fixedPart, .. RandomBytes(_random.Next(0, 200))];
    }

    private byte[] LyingTlv()
    {
        // An INET header with TLVs built by hand, then one TLV length (or the total length) made to lie.
        var body = new List<byte>(RandomBytes(12));
        var tlvStarts = new List<int>();
        int tlvs = _random.Next(1, 4);
        for (int i = 0; i < tlvs; i++)
        {
            tlvStarts.Add(body.Count);
            int len = _random.Next(0, 40);
            body.AddRange([(byte)_random.Next(0xE0, 0x100), (byte)(len >> 8), (byte)len]);
            body.AddRange(RandomBytes(len));
        }

        int victim = tlvStarts[_random.Next(tlvStarts.Count)];
        switch (_random.Next(4))
        {
            case 0:
                {
                    int len = (body[victim + 1] << 8) | body[victim + 2];
                    int lie = len + _random.Next(1, 60);
                    body[victim + 1] = (byte)(lie >> 8);
                    body[victim + 2] = (byte)lie;
                    break;
                }

            case 1:
                {
                    int len = (body[victim + 1] << 8) | body[victim + 2];
                    int lie = Math.Max(0, len - _random.Next(1, 10));
                    body[victim + 1] = (byte)(lie >> 8);
                    body[victim + 2] = (byte)lie;
                    break;
                }

            case 2:
                body[victim + 1] = 0xFF;
                body[victim + 2] = 0xFF;
                break;
            default:
                // A dangling TLV header of 1 or 2 bytes at the end.
                body.AddRange(RandomBytes(_random.Next(1, 3)));
                break;
        }

        byte[] header = [.. ProxyHeaderParser.V2Signature, 0x21, 0x11, 0, 0, .. body];
        BinaryPrimitives.WriteUInt16BigEndian(header.AsSpan(14), (ushort)body.Count);
        return header;
    }

    private byte[] BadCrc()
    {
        byte[] header = ValidV2(crc: true);
        switch (_random.Next(3))
        {
            case 0:
                // The CRC TLV is last: damage its value.
                header[^_random.Next(1, 5)] ^= (byte)(1 << _random.Next(8));
                break;
            case 1:
                // Damage a covered byte (address block or a TLV), leaving the checksum as it was.
                header[_random.Next(16, header.Length - 4)] ^= (byte)(1 << _random.Next(8));
                break;
            default:
                {
                    // A CRC TLV of the wrong size (3 or 5 bytes), appended by hand.
                    int size = _random.Next(2) == 0 ? 3 : 5;
                    byte[] bad = [0x03, 0, (byte)size, .. RandomBytes(size)];
                    header = [.. header, .. bad];
                    BinaryPrimitives.WriteUInt16BigEndian(header.AsSpan(14), (ushort)(header.Length - 16));
                    break;
                }
        }

        return header;
    }

    private byte[] BadV1()
    {
        string protocol = "TCP4";
        string src = RandomV4().ToString();
        string dst = RandomV4().ToString();
        string sport = _random.Next(1, 65536).ToString(System.Globalization.CultureInfo.InvariantCulture);
        string dport = _random.Next(1, 65536).ToString(System.Globalization.CultureInfo.InvariantCulture);
        string sep1 = " ", sep2 = " ", sep3 = " ", sep4 = " ", end = "\r\n";
        switch (_random.Next(8))
        {
            case 0:
                sport = BadPorts[_random.Next(BadPorts.Length)];
                break;
            case 1:
                dport = BadPorts[_random.Next(BadPorts.Length)];
                break;
            case 2:
                src = BadAddresses[_random.Next(BadAddresses.Length)];
                break;
            case 3:
                dst = BadAddresses[_random.Next(BadAddresses.Length)];
                break;
            case 4:
                sep1 = _random.Next(2) == 0 ? "  " : "\t";
                sep3 = _random.Next(2) == 0 ? " " : "  ";
                break;
            case 5:
                protocol = Protocols[_random.Next(Protocols.Length)];
                src = _random.Next(2) == 0 ? RandomV6().ToString() : src;
                break;
            case 6:
                end = new[] { "\n", "\r", " \r\n", "\r\r\n", "" }[_random.Next(5)];
                break;
            default:
                dst = new string('1', _random.Next(60, 120));
                break;
        }

        return Encoding.ASCII.GetBytes($"PROXY {protocol}{sep1}{src}{sep2}{dst}{sep3}{sport}{sep4}{dport}{end}");
    }
}

/// <summary>What a connection must see, from the codec's own verdict on the exact bytes the client sends.</summary>
internal sealed record GarbagePlan(
    byte[] Send, bool HalfClose, bool ExpectAnswer, IPAddress? ExpectedClient, ProxyParseStatus PrefixStatus, ProxyParseError Error)
{
    /// <summary>
    /// A prefix the codec calls incomplete is sent alone and half-closed (the server must close, having seen the end
    /// of the stream before a header); an invalid one is followed by <paramref name="payload"/> (which must not be
    /// answered); a complete one is cut to the header's length and followed by the payload, which must be answered
    /// with the header's source address (or the real one when the header carries no IP endpoints).
    /// </summary>
    public static GarbagePlan For(byte[] prefix, byte[] payload, IPAddress realSource, ProxyHeaderParserOptions options)
    {
        ProxyParseStatus status = ProxyHeaderParser.Parse(new ReadOnlySequence<byte>(prefix), options, out ProxyHeader header, out ProxyParseError error);
        switch (status)
        {
            case ProxyParseStatus.NeedMoreData:
                return new GarbagePlan(prefix, true, false, null, status, error);
            case ProxyParseStatus.Invalid:
                {
                    byte[] all = [.. prefix, .. payload];
                    ProxyParseStatus again = ProxyHeaderParser.Parse(new ReadOnlySequence<byte>(all), options, out _, out ProxyParseError again2);
                    if (again != ProxyParseStatus.Invalid || again2 != error)
                    {
                        throw new InvalidOperationException($"codec: an invalid prefix became {again}/{again2} with more data: {Convert.ToHexString(prefix)}");
                    }

                    return new GarbagePlan(all, false, false, null, status, error);
                }

            default:
                {
                    byte[] sent = [.. prefix.AsSpan(0, header.Length), .. payload];
                    IPAddress expected = header.HasIPEndPoints ? header.GetSourceAddress()! : realSource;
                    return new GarbagePlan(sent, false, true, expected, status, error);
                }
        }
    }
}

/// <summary>How one hostile connection ended.</summary>
internal enum GarbageEnd
{
    /// <summary>Closed (FIN or reset) with nothing received.</summary>
    ClosedEmpty,

    /// <summary>Bytes were received, then the connection closed.</summary>
    Answered,

    /// <summary>Still open at the deadline.</summary>
    Hung,

    /// <summary>The connection could not be opened.</summary>
    ConnectFailed,
}

/// <summary>The client side of one hostile connection.</summary>
internal static class GarbageClient
{
    public static async Task<(GarbageEnd End, byte[] Received, TimeSpan Elapsed)> RunAsync(
        IPAddress source, int port, byte[] send, bool halfClose, TimeSpan deadline)
    {
        var clock = Stopwatch.StartNew();
        using var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        using var cts = new CancellationTokenSource(deadline);
        try
        {
            socket.Bind(new IPEndPoint(source, 0));
            await socket.ConnectAsync(new IPEndPoint(IPAddress.Loopback, port), cts.Token);
        }
        catch (SocketException e) when (e.SocketErrorCode == SocketError.ConnectionReset)
        {
            // Accepted and reset before the connect completed here: closed at once, nothing written.
            return (GarbageEnd.ClosedEmpty, [], clock.Elapsed);
        }
        catch (Exception e) when (e is SocketException or OperationCanceledException)
        {
            return (GarbageEnd.ConnectFailed, [], clock.Elapsed);
        }

        try
        {
            await socket.SendAsync(send.AsMemory(), SocketFlags.None, cts.Token);
            if (halfClose)
            {
                socket.Shutdown(SocketShutdown.Send);
            }
        }
        catch (SocketException)
        {
            // Closed by the server while sending: what was received decides.
        }
        catch (OperationCanceledException)
        {
            return (GarbageEnd.Hung, [], clock.Elapsed);
        }

        using var received = new MemoryStream();
        byte[] buffer = new byte[8192];
        try
        {
            while (received.Length < (1 << 20))
            {
                int n = await socket.ReceiveAsync(buffer.AsMemory(), SocketFlags.None, cts.Token);
                if (n == 0)
                {
                    break;
                }

                received.Write(buffer, 0, n);
            }
        }
        catch (SocketException)
        {
            // A reset is a close.
        }
        catch (OperationCanceledException)
        {
            return (GarbageEnd.Hung, received.ToArray(), clock.Elapsed);
        }

        return (received.Length == 0 ? GarbageEnd.ClosedEmpty : GarbageEnd.Answered, received.ToArray(), clock.Elapsed);
    }
}

/// <summary>Counts of outcomes, thread-safe, with the first few failures kept for the report.</summary>
internal sealed class GarbageTally
{
    private readonly System.Collections.Concurrent.ConcurrentDictionary<string, long> _counts = new(StringComparer.Ordinal);
    private readonly System.Collections.Concurrent.ConcurrentQueue<string> _failures = new();
    private long _slowestCloseTicks;

    public long this[string key] => _counts.TryGetValue(key, out long v) ? v : 0;

    public IReadOnlyCollection<string> Failures => _failures;

    public TimeSpan SlowestClose => TimeSpan.FromTicks(Interlocked.Read(ref _slowestCloseTicks));

    public void Count(string key) => _counts.AddOrUpdate(key, 1, (_, v) => v + 1);

    public void Closed(TimeSpan elapsed)
    {
        long ticks = elapsed.Ticks;
        long seen;
        while (ticks > (seen = Interlocked.Read(ref _slowestCloseTicks)) && Interlocked.CompareExchange(ref _slowestCloseTicks, ticks, seen) != seen)
        {
        }
    }

    public void Fail(string key, string detail)
    {
        Count(key);
        if (_failures.Count < 20)
        {
            _failures.Enqueue($"{key}: {detail}");
        }
    }

    public long Total(string prefix) => _counts.Where(p => p.Key.StartsWith(prefix, StringComparison.Ordinal)).Sum(p => p.Value);

    public string Summary(string prefix) => string.Join(", ", _counts
        .Where(p => p.Key.StartsWith(prefix, StringComparison.Ordinal))
        .OrderBy(p => p.Key, StringComparer.Ordinal)
        .Select(p => $"{p.Key[prefix.Length..]} {p.Value}"));
}
