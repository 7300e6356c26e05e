using System.Buffers;
using System.Buffers.Binary;
using System.Net;
using System.Net.Sockets;
using System.Text;

namespace ProxyKestrel.ProxyProtocol.Fuzzing;

/// <summary>Thrown by <see cref="CodecFuzzTarget"/> when the codec breaks one of its invariants (a fuzzing "crash").</summary>
public sealed class FuzzInvariantException : Exception
{
    public FuzzInvariantException()
    {
    }

    public FuzzInvariantException(string message)
        : base(message)
    {
    }

    public FuzzInvariantException(string message, Exception innerException)
        : base(message, innerException)
    {
    }
}

/// <summary>
/// The fuzz target of eng/fuzz (compiled into the SharpFuzz harness as a linked file and into the test project, which
/// replays the corpus and the regressions through it). Every input is used twice:
/// <list type="number">
/// <item>as received bytes: parsed contiguous, split into segments at points derived from the input, byte by byte
/// (short inputs) and as a prefix; the results must agree and obey the parser's contract. A complete header has every
/// TLV walked and every typed reader called, then is written back with the writers and parsed again:
/// parse(write(x)) must equal x. The receiving evaluator must agree with the parser.</item>
/// <item>as a header description (kind, addresses, ports, paths, TLVs) decoded from the bytes: it is written with the
/// writers, parsed, and the parsed header must equal the description.</item>
/// </list>
/// Any disagreement throws <see cref="FuzzInvariantException"/>; any exception out of the codec propagates. Both are
/// crashes for AFL.
/// </summary>
public static class CodecFuzzTarget
{
    private const int BytewiseLimit = 64;
    private const int WriteBufferSize = 32 * 1024;

    private static readonly ProxyHeaderParserOptions Largest = new() { MaxHeaderSize = ProxyHeaderParserOptions.MaxMaxHeaderSize };
    private static readonly ProxyHeaderParserOptions V1Only = new() { AllowedVersions = ProxyProtocolVersions.V1 };
    private static readonly ProxyHeaderParserOptions V2Only = new() { AllowedVersions = ProxyProtocolVersions.V2 };
    private static readonly ProxyProtocolReceiver[] Receivers = CreateReceivers();

    [ThreadStatic]
    private static byte[]? t_writeBuffer;

    /// <summary>Runs both modes on one input.</summary>
    public static void Run(ReadOnlySpan<byte> input)
    {
        byte[] data = input.ToArray();
        CheckReceivedBytes(data, roundTrip: true);
        RoundTripDescription(data);
    }

    // ---------------------------------------------------------------- mode 1: received bytes

    private static Result CheckReceivedBytes(byte[] data, bool roundTrip)
    {
        var whole = new ReadOnlySequence<byte>(data);
        Result r = Result.Of(whole, ProxyHeaderParserOptions.Default);
        CheckContract(r, data, ProxyHeaderParserOptions.DefaultMaxHeaderSize);

        uint hash = Fnv(data);
        Same(r, Result.Of(FuzzSegments.Split(data, SplitPoints(data, hash)), ProxyHeaderParserOptions.Default), "split");
        if (data.Length <= BytewiseLimit)
        {
            Same(r, Result.Of(FuzzSegments.Bytewise(data), ProxyHeaderParserOptions.Default), "bytewise");
        }

        CheckPrefix(r, data, (int)(hash % (uint)(data.Length + 1)));
        if (r.Status == ProxyParseStatus.Complete)
        {
            CheckPrefix(r, data, r.Header.Length - 1);
            CheckPrefix(r, data, r.Header.Length);
        }

        CheckOptions(r, whole);
        CheckReceivers(whole, FuzzSegments.Split(data, SplitPoints(data, hash ^ 0x9E3779B9)));

        if (r.Status == ProxyParseStatus.Complete)
        {
            Exercise(r.Header);
            if (roundTrip)
            {
                RoundTripParsed(r.Header);
            }
        }
        else
        {
            _ = r.Error.Describe();
        }

        return r;
    }

    private static void CheckContract(in Result r, byte[] data, int maxHeaderSize)
    {
        switch (r.Status)
        {
            case ProxyParseStatus.Complete:
                Check(r.Error == ProxyParseError.None, "Complete with an error");
                Check(r.Header.Length > 0 && r.Header.Length <= data.Length, $"Complete with length {r.Header.Length} for {data.Length} input bytes");
                Check(r.Header.RawBytes.Length == r.Header.Length, "RawBytes length differs from Length");
                Check(r.Header.RawBytes.ToArray().AsSpan().SequenceEqual(data.AsSpan(0, r.Header.Length)), "RawBytes are not the input's first bytes");
                if (r.Header.Version == ProxyProtocolVersion.V1)
                {
                    Check(data[0] == (byte)'P' && r.Header.Length <= ProxyHeaderParser.V1MaxLength, "v1 header not starting with P or too long");
                    Check(r.Header.Tlvs.IsEmpty, "v1 header with TLVs");
                }
                else
                {
                    Check(r.Header.Version == ProxyProtocolVersion.V2, "unknown version");
                    Check(data.AsSpan().StartsWith(ProxyHeaderParser.V2Signature), "v2 header without the signature");
                    Check(r.Header.Length <= maxHeaderSize, "v2 header larger than MaxHeaderSize");
                    Check(r.Header.Length == ProxyHeaderParser.V2FixedLength + BinaryPrimitives.ReadUInt16BigEndian(data.AsSpan(14)), "v2 Length differs from the announced length");
                }

                break;
            case ProxyParseStatus.Invalid:
                Check(r.Error != ProxyParseError.None, "Invalid without a reason");
                break;
            case ProxyParseStatus.NeedMoreData:
                Check(r.Error == ProxyParseError.None, "NeedMoreData with an error");
                Check(data.Length == 0 || data[0] is (byte)'P' or 0x0D, "NeedMoreData for bytes that cannot start a header");
                Check(data.Length == 0 || data[0] != (byte)'P' || data.Length < ProxyHeaderParser.V1MaxLength, "NeedMoreData after 107 bytes of a v1 line");
                Check(data.Length < maxHeaderSize, "NeedMoreData with MaxHeaderSize bytes available");
                break;
            default:
                throw new FuzzInvariantException($"unknown status {r.Status}");
        }
    }

    // A prefix of the input: a prefix of a complete header needs more data, the header itself (and more) is complete
    // and identical; a prefix of an incomplete input is incomplete; nothing shorter than an invalid input is complete.
    private static void CheckPrefix(in Result full, byte[] data, int length)
    {
        Result p = Result.Of(new ReadOnlySequence<byte>(data, 0, length), ProxyHeaderParserOptions.Default);
        switch (full.Status)
        {
            case ProxyParseStatus.Complete when length < full.Header.Length:
                Check(p.Status == ProxyParseStatus.NeedMoreData, $"prefix of {length} bytes of a complete header gives {p.Status} {p.Error}");
                break;
            case ProxyParseStatus.Complete:
                Same(full, p, $"prefix of {length} bytes");
                break;
            case ProxyParseStatus.NeedMoreData:
                Check(p.Status == ProxyParseStatus.NeedMoreData, $"prefix of {length} bytes of an incomplete input gives {p.Status} {p.Error}");
                break;
            default:
                Check(p.Status != ProxyParseStatus.Complete, $"prefix of {length} bytes of an invalid input is complete");
                break;
        }
    }

    private static void CheckOptions(in Result r, in ReadOnlySequence<byte> whole)
    {
        Result large = Result.Of(whole, Largest);
        if (r.Status != ProxyParseStatus.Invalid || r.Error != ProxyParseError.V2HeaderTooLarge)
        {
            Same(r, large, "MaxHeaderSize 65551");
        }
        else
        {
            Check(large.Status != ProxyParseStatus.Invalid || large.Error != ProxyParseError.V2HeaderTooLarge, "too large with the largest MaxHeaderSize");
        }

        Result v1 = Result.Of(whole, V1Only);
        Result v2 = Result.Of(whole, V2Only);
        if (r.Status == ProxyParseStatus.Complete)
        {
            bool isV1 = r.Header.Version == ProxyProtocolVersion.V1;
            Same(r, isV1 ? v1 : v2, "only its own version allowed");
            Result other = isV1 ? v2 : v1;
            Check(
                other.Status == ProxyParseStatus.Invalid && other.Error == (isV1 ? ProxyParseError.V1NotAllowed : ProxyParseError.V2NotAllowed),
                $"a v{(isV1 ? 1 : 2)} header with only the other version allowed gives {other.Status} {other.Error}");
        }
    }

    private static void CheckReceivers(in ReadOnlySequence<byte> whole, in ReadOnlySequence<byte> split)
    {
        foreach (ProxyProtocolReceiver receiver in Receivers)
        {
            Result parsed = Result.Of(whole, receiver.ParserOptions);
            ProxyReceiveStatus open = receiver.Evaluate(whole, false, out ProxyHeader openHeader, out ProxyParseError openError);
            ProxyReceiveStatus closed = receiver.Evaluate(split, true, out ProxyHeader closedHeader, out ProxyParseError closedError);
            ProxyReceiveStatus expected = parsed.Status switch
            {
                ProxyParseStatus.Complete => ProxyReceiveStatus.Accepted,
                ProxyParseStatus.Invalid when parsed.Error == ProxyParseError.NotProxyProtocol && receiver.Mode == ProxyProtocolMode.Optional => ProxyReceiveStatus.NoHeader,
                ProxyParseStatus.Invalid => ProxyReceiveStatus.Rejected,
                _ => ProxyReceiveStatus.NeedMoreData,
            };
            Check(open == expected && openError == parsed.Error, $"Evaluate gave {open} {openError}, the parser {parsed.Status} {parsed.Error}");
            Check(
                closed == (expected == ProxyReceiveStatus.NeedMoreData ? ProxyReceiveStatus.Rejected : expected) && closedError == parsed.Error,
                $"Evaluate on a closed, split input gave {closed} {closedError}, the parser {parsed.Status} {parsed.Error}");
            if (open == ProxyReceiveStatus.Accepted)
            {
                SameHeader(parsed.Header, openHeader, "Evaluate");
                SameHeader(parsed.Header, closedHeader, "Evaluate (split)");
                ProxyProtocolVersions allowed = openHeader.Version == ProxyProtocolVersion.V1 ? ProxyProtocolVersions.V1 : ProxyProtocolVersions.V2;
                Check((receiver.ParserOptions.AllowedVersions & allowed) != 0, "Evaluate accepted a version that is not allowed");
                Check(openHeader.Version == ProxyProtocolVersion.V1 || openHeader.Length <= receiver.ParserOptions.MaxHeaderSize, "Evaluate accepted a header over MaxHeaderSize");
            }

            Check(open != ProxyReceiveStatus.NoHeader || receiver.Mode == ProxyProtocolMode.Optional, "NoHeader in Required mode");
        }
    }

    // Every TLV walked, every typed reader called, each checked against an independent walk of the raw TLV bytes.
    private static void Exercise(in ProxyHeader header)
    {
        List<(byte Type, byte[] Value)> raw = WalkTlvs(header.Tlvs.RawBytes.ToArray(), "TLV region");
        List<(byte Type, byte[] Value)> walked = Tlvs(header.Tlvs);
        Check(header.Tlvs.Count() == raw.Count && walked.Count == raw.Count, "the TLV enumerator skipped or added TLVs");
        for (int i = 0; i < raw.Count; i++)
        {
            Check(walked[i].Type == raw[i].Type && walked[i].Value.AsSpan().SequenceEqual(raw[i].Value), $"TLV {i} differs from the raw bytes");
            ProxyTlv tlv = default(ProxyTlv) with { Type = raw[i].Type };
            _ = tlv.IsCustom | tlv.IsExperimental | tlv.IsReservedForFuture;
        }

        Check(header.Tlvs.IsEmpty == (raw.Count == 0), "Tlvs.IsEmpty is wrong");
        ExpectFirst(raw, (byte)ProxyTlvType.Alpn, header.TryGetAlpn(out ReadOnlySequence<byte> alpn), alpn, "ALPN");
        ExpectFirst(raw, (byte)ProxyTlvType.Authority, header.TryGetAuthority(out ReadOnlySequence<byte> authority), authority, "authority");
        ExpectFirst(raw, (byte)ProxyTlvType.UniqueId, header.TryGetUniqueId(out ReadOnlySequence<byte> uniqueId), uniqueId, "unique id");
        ExpectFirst(raw, (byte)ProxyTlvType.NetworkNamespace, header.TryGetNetworkNamespace(out ReadOnlySequence<byte> netns), netns, "netns");
        foreach ((byte type, byte[] value) in raw)
        {
            Check(header.Tlvs.TryGet(type, out ReadOnlySequence<byte> v) && v.Length >= 0, $"TryGet(0x{type:X2}) missed a TLV");
            switch (type)
            {
                case (byte)ProxyTlvType.UniqueId:
                    Check(value.Length <= 128, "a unique id over 128 bytes was accepted");
                    break;
                case (byte)ProxyTlvType.Crc32C:
                    Check(value.Length == 4, "a CRC32C TLV not of 4 bytes was accepted");
                    break;
                case (byte)ProxyTlvType.Ssl:
                    Check(value.Length >= 5, "an SSL TLV under 5 bytes was accepted");
                    _ = WalkTlvs(value.AsSpan(5).ToArray(), "SSL sub-TLVs");
                    break;
            }
        }

        Check(raw.Count(t => t.Type == (byte)ProxyTlvType.Crc32C) <= 1, "two CRC32C TLVs were accepted");
        bool hasCrc = header.TryGetCrc32C(out uint crc);
        (byte Type, byte[] Value)? crcTlv = First(raw, (byte)ProxyTlvType.Crc32C);
        Check(hasCrc == crcTlv is not null && (!hasCrc || crc == BinaryPrimitives.ReadUInt32BigEndian(crcTlv!.Value.Value)), "TryGetCrc32C is wrong");

        (byte Type, byte[] Value)? sslTlv = First(raw, (byte)ProxyTlvType.Ssl);
        bool hasSsl = header.TryGetSsl(out ProxySslTlv ssl);
        Check(hasSsl == sslTlv is not null, "TryGetSsl is wrong");
        if (hasSsl)
        {
            byte[] value = sslTlv!.Value.Value;
            Check((byte)ssl.Client == value[0] && ssl.Verify == BinaryPrimitives.ReadUInt32BigEndian(value.AsSpan(1)), "SSL client/verify are wrong");
            Check(ssl.IsTls == ((value[0] & 1) != 0), "IsTls is wrong");
            Check(ssl.IsClientCertificateVerified == (ssl.Verify == 0 && (value[0] & 6) != 0), "IsClientCertificateVerified is wrong");
            List<(byte Type, byte[] Value)> subs = WalkTlvs(value.AsSpan(5).ToArray(), "SSL sub-TLVs");
            List<(byte Type, byte[] Value)> subsWalked = Tlvs(ssl.SubTlvs);
            Check(subs.Count == subsWalked.Count && ssl.SubTlvs.Count() == subs.Count, "the SSL sub-TLV enumerator skipped or added TLVs");
            ExpectFirst(subs, (byte)ProxyTlvType.SslVersion, ssl.TryGetVersion(out ReadOnlySequence<byte> s1), s1, "SSL version");
            ExpectFirst(subs, (byte)ProxyTlvType.SslCommonName, ssl.TryGetCommonName(out ReadOnlySequence<byte> s2), s2, "SSL CN");
            ExpectFirst(subs, (byte)ProxyTlvType.SslCipher, ssl.TryGetCipher(out ReadOnlySequence<byte> s3), s3, "SSL cipher");
            ExpectFirst(subs, (byte)ProxyTlvType.SslSignatureAlgorithm, ssl.TryGetSignatureAlgorithm(out ReadOnlySequence<byte> s4), s4, "SSL sig alg");
            ExpectFirst(subs, (byte)ProxyTlvType.SslKeyAlgorithm, ssl.TryGetKeyAlgorithm(out ReadOnlySequence<byte> s5), s5, "SSL key alg");
            ExpectFirst(subs, (byte)ProxyTlvType.SslGroup, ssl.TryGetGroup(out ReadOnlySequence<byte> s6), s6, "SSL group");
            ExpectFirst(subs, (byte)ProxyTlvType.SslSignatureScheme, ssl.TryGetSignatureScheme(out ReadOnlySequence<byte> s7), s7, "SSL sig scheme");
            ExpectFirst(subs, (byte)ProxyTlvType.SslClientCertificate, ssl.TryGetClientCertificate(out ReadOnlySequence<byte> s8), s8, "SSL client cert");
        }

        (byte Type, byte[] Value)? aws = raw.Where(t => t.Type == (byte)ProxyTlvType.Aws && t.Value.Length >= 1 && t.Value[0] == 1).Select(t => ((byte, byte[])?)t).FirstOrDefault();
        bool hasAws = header.TryGetAwsVpcEndpointId(out ReadOnlySequence<byte> vpce);
        Check(hasAws == aws is not null && (!hasAws || vpce.ToArray().AsSpan().SequenceEqual(aws!.Value.Item2.AsSpan(1))), "TryGetAwsVpcEndpointId is wrong");

        (byte Type, byte[] Value)? azure = raw.Where(t => t.Type == (byte)ProxyTlvType.Azure && t.Value.Length == 5 && t.Value[0] == 1).Select(t => ((byte, byte[])?)t).FirstOrDefault();
        bool hasAzure = header.TryGetAzurePrivateLinkId(out uint linkId);
        Check(hasAzure == azure is not null && (!hasAzure || linkId == BinaryPrimitives.ReadUInt32LittleEndian(azure!.Value.Item2.AsSpan(1))), "TryGetAzurePrivateLinkId is wrong");

        (byte Type, byte[] Value)? gcp = raw.Where(t => t.Type == (byte)ProxyTlvType.GcpPscConnectionId && t.Value.Length == 8).Select(t => ((byte, byte[])?)t).FirstOrDefault();
        bool hasGcp = header.TryGetGcpPscConnectionId(out ulong pscId);
        Check(hasGcp == gcp is not null && (!hasGcp || pscId == BinaryPrimitives.ReadUInt64BigEndian(gcp!.Value.Item2)), "TryGetGcpPscConnectionId is wrong");

        // Addresses and endpoints.
        bool ip = header.HasIPEndPoints;
        Check((header.GetSourceAddress() is not null) == ip && (header.GetDestinationEndPoint() is not null) == ip, "endpoints disagree with HasIPEndPoints");
        if (ip)
        {
            IPEndPoint source = header.GetSourceEndPoint()!;
            Check(source.Port == header.SourcePort && header.GetDestinationEndPoint()!.Port == header.DestinationPort, "endpoint ports are wrong");
            Span<byte> bytes = stackalloc byte[16];
            int n = header.CopySourceAddress(bytes);
            Check(n == (header.AddressFamily == ProxyAddressFamily.InterNetwork ? 4 : 16), "CopySourceAddress length is wrong");
            Check(source.Address.GetAddressBytes().AsSpan().SequenceEqual(bytes[..n]), "GetSourceEndPoint differs from CopySourceAddress");
        }

        Check(header.HasUnixAddresses == (header.Command == ProxyCommand.Proxy && header.AddressFamily == ProxyAddressFamily.Unix && header.Transport != ProxyTransport.Unspecified), "HasUnixAddresses is wrong");
        if (header.AddressFamily == ProxyAddressFamily.Unix)
        {
            Check(header.UnixSourcePath.Length <= ProxyHeader.UnixAddressLength && header.UnixDestinationPath.Length <= ProxyHeader.UnixAddressLength, "a UNIX path is too long");
            Check(header.UnixSourcePath.PositionOf((byte)0) is null && header.UnixDestinationPath.PositionOf((byte)0) is null, "a UNIX path holds a NUL");
        }
        else
        {
            Check(header.UnixSourcePath.IsEmpty && header.UnixDestinationPath.IsEmpty, "UNIX paths for another family");
        }

        Check(!string.IsNullOrEmpty(header.ToString()), "empty ToString");
    }

    // parse(write(x)) == x, with the writers' documented normalizations: two IPv4 (or IPv4-mapped) addresses are
    // always written as AF_INET/TCP4; a LOCAL header is always written as AF_UNSPEC without addresses (receivers
    // ignore them). A v2 PROXY header with AF_UNSPEC, or with IP addresses and an UNSPEC transport, cannot be
    // written by the writers and is not round-tripped.
    private static void RoundTripParsed(in ProxyHeader x)
    {
        byte[] buffer = WriteBuffer();
        int written;
        Expected expected;
        if (x.Version == ProxyProtocolVersion.V1)
        {
            if (!x.HasIPEndPoints)
            {
                Check(x.AddressFamily == ProxyAddressFamily.Unspecified && x.Command == ProxyCommand.Proxy, "v1 header without endpoints is not UNKNOWN");
                written = ProxyHeaderWriter.WriteV1Unknown(buffer);
                expected = Expected.Unknown(ProxyProtocolVersion.V1, ProxyCommand.Proxy, x.Transport);
            }
            else
            {
                IPAddress source = x.GetSourceAddress()!;
                IPAddress destination = x.GetDestinationAddress()!;
                Check(ProxyHeaderWriter.TryWriteV1(buffer, source, x.SourcePort, destination, x.DestinationPort, out written), "TryWriteV1 failed for a parsed header");
                expected = Expected.ForIP(ProxyProtocolVersion.V1, ProxyTransport.Stream, source, x.SourcePort, destination, x.DestinationPort, []);
            }

            CompareWritten(buffer.AsSpan(0, written), expected, "v1 round trip");
            return;
        }

        List<(byte Type, byte[] Value)> tlvs = Tlvs(x.Tlvs);
        bool identical = false;
        ProxyV2HeaderWriter writer;
        if (x.Command == ProxyCommand.Local)
        {
            writer = ProxyV2HeaderWriter.Local(buffer);
            expected = Expected.Unknown(ProxyProtocolVersion.V2, ProxyCommand.Local, ProxyTransport.Unspecified);
        }
        else if (x.HasIPEndPoints)
        {
            IPAddress source = x.GetSourceAddress()!;
            IPAddress destination = x.GetDestinationAddress()!;
            writer = ProxyV2HeaderWriter.Proxy(buffer, source, x.SourcePort, destination, x.DestinationPort, x.Transport);
            expected = Expected.ForIP(ProxyProtocolVersion.V2, x.Transport, source, x.SourcePort, destination, x.DestinationPort, []);
            identical = expected.Family == x.AddressFamily;
        }
        else if (x.AddressFamily == ProxyAddressFamily.Unix)
        {
            byte[] sourcePath = x.UnixSourcePath.ToArray();
            byte[] destinationPath = x.UnixDestinationPath.ToArray();
            writer = ProxyV2HeaderWriter.ProxyUnix(buffer, sourcePath, destinationPath, x.Transport);
            expected = Expected.ForUnix(x.Transport, sourcePath, destinationPath);
        }
        else
        {
            return;
        }

        ReplayTlvs(ref writer, tlvs);
        written = writer.Complete();
        expected.Tlvs = tlvs;
        CompareWritten(buffer.AsSpan(0, written), expected, "v2 round trip");
        if (identical)
        {
            Check(buffer.AsSpan(0, written).SequenceEqual(x.RawBytes.ToArray()), "rewriting a v2 header changed its bytes");
        }
    }

    private static void ReplayTlvs(ref ProxyV2HeaderWriter writer, List<(byte Type, byte[] Value)> tlvs)
    {
        foreach ((byte type, byte[] value) in tlvs)
        {
            switch (type)
            {
                case (byte)ProxyTlvType.Alpn:
                    writer.AddAlpn(value);
                    break;
                case (byte)ProxyTlvType.Authority:
                    writer.AddAuthority(value);
                    break;
                case (byte)ProxyTlvType.Crc32C:
                    writer.AddCrc32C();
                    break;
                case (byte)ProxyTlvType.Noop when !value.AsSpan().ContainsAnyExcept((byte)0):
                    writer.AddNoop(value.Length);
                    break;
                case (byte)ProxyTlvType.UniqueId:
                    writer.AddUniqueId(value);
                    break;
                case (byte)ProxyTlvType.NetworkNamespace:
                    writer.AddNetworkNamespace(value);
                    break;
                case (byte)ProxyTlvType.Ssl:
                    writer.BeginSsl((ProxySslClient)value[0], BinaryPrimitives.ReadUInt32BigEndian(value.AsSpan(1)));
                    foreach ((byte subType, byte[] subValue) in WalkTlvs(value.AsSpan(5).ToArray(), "SSL sub-TLVs"))
                    {
                        writer.AddSslSubTlv((ProxyTlvType)subType, subValue);
                    }

                    writer.EndSsl();
                    break;
                case (byte)ProxyTlvType.Aws when value.Length >= 1 && value[0] == 1:
                    writer.AddAwsVpcEndpointId(value.AsSpan(1));
                    break;
                case (byte)ProxyTlvType.Azure when value.Length == 5 && value[0] == 1:
                    writer.AddAzurePrivateLinkId(BinaryPrimitives.ReadUInt32LittleEndian(value.AsSpan(1)));
                    break;
                case (byte)ProxyTlvType.GcpPscConnectionId when value.Length == 8:
                    writer.AddGcpPscConnectionId(BinaryPrimitives.ReadUInt64BigEndian(value));
                    break;
                default:
                    writer.AddTlv(type, value);
                    break;
            }
        }
    }

    // ---------------------------------------------------------------- mode 2: a description decoded from the input

    private static void RoundTripDescription(byte[] data)
    {
        var c = new Cursor(data);
        byte[] buffer = WriteBuffer();
        int kind = c.Next() % 5;
        bool useBufferWriter = (c.Next() & 1) != 0;
        switch (kind)
        {
            case 0:
            {
                IPAddress source = c.NextAddress();
                IPAddress destination = c.NextAddress();
                int sourcePort = c.NextUInt16();
                int destinationPort = c.NextUInt16();
                int written;
                if (useBufferWriter)
                {
                    var output = new ArrayBufferWriter<byte>(ProxyHeaderParser.V1MaxLength);
                    written = ProxyHeaderWriter.WriteV1(output, new IPEndPoint(source, sourcePort), new IPEndPoint(destination, destinationPort));
                    Check(output.WrittenCount == written, "WriteV1(IBufferWriter) advanced wrongly");
                    output.WrittenSpan.CopyTo(buffer);
                }
                else
                {
                    Check(ProxyHeaderWriter.TryWriteV1(buffer.AsSpan(0, ProxyHeaderParser.V1MaxLength), source, sourcePort, destination, destinationPort, out written), "TryWriteV1 did not fit in 107 bytes");
                    Check(!ProxyHeaderWriter.TryWriteV1(buffer.AsSpan(0, written - 1), source, sourcePort, destination, destinationPort, out _), "TryWriteV1 fit in fewer bytes than it wrote");
                }

                Expected e = Expected.ForIP(ProxyProtocolVersion.V1, ProxyTransport.Stream, source, sourcePort, destination, destinationPort, []);
                CompareWritten(buffer.AsSpan(0, written), e, "v1 description");
                break;
            }

            case 1:
            {
                int written = ProxyHeaderWriter.WriteV1Unknown(buffer);
                Check(written == ProxyHeaderWriter.V1UnknownLength, "WriteV1Unknown length");
                CompareWritten(buffer.AsSpan(0, written), Expected.Unknown(ProxyProtocolVersion.V1, ProxyCommand.Proxy, ProxyTransport.Unspecified), "v1 UNKNOWN description");
                break;
            }

            default:
            {
                ArrayBufferWriter<byte>? output = useBufferWriter && kind != 3 ? new ArrayBufferWriter<byte>() : null;
                ProxyV2HeaderWriter writer;
                Expected e;
                if (kind == 2)
                {
                    IPAddress source = c.NextAddress();
                    IPAddress destination = c.NextAddress();
                    int sourcePort = c.NextUInt16();
                    int destinationPort = c.NextUInt16();
                    ProxyTransport transport = (c.Next() & 1) != 0 ? ProxyTransport.Datagram : ProxyTransport.Stream;
                    writer = output is null
                        ? ProxyV2HeaderWriter.Proxy(buffer, source, sourcePort, destination, destinationPort, transport)
                        : ProxyV2HeaderWriter.Proxy(output, WriteBufferSize, source, sourcePort, destination, destinationPort, transport);
                    e = Expected.ForIP(ProxyProtocolVersion.V2, transport, source, sourcePort, destination, destinationPort, []);
                }
                else if (kind == 3)
                {
                    byte[] sourcePath = c.Take(c.Next() % (ProxyHeader.UnixAddressLength + 1)).ToArray();
                    byte[] destinationPath = c.Take(c.Next() % (ProxyHeader.UnixAddressLength + 1)).ToArray();
                    var transport = (c.Next() & 1) != 0 ? ProxyTransport.Datagram : ProxyTransport.Stream;
                    writer = ProxyV2HeaderWriter.ProxyUnix(buffer, sourcePath, destinationPath, transport);
                    e = Expected.ForUnix(transport, UpToNul(sourcePath), UpToNul(destinationPath));
                }
                else
                {
                    writer = output is null ? ProxyV2HeaderWriter.Local(buffer) : ProxyV2HeaderWriter.Local(output, WriteBufferSize);
                    e = Expected.Unknown(ProxyProtocolVersion.V2, ProxyCommand.Local, ProxyTransport.Unspecified);
                }

                e.Tlvs = AddDescribedTlvs(ref writer, ref c);
                int written = writer.Complete();
                Check(writer.Length == written, "Length differs from Complete()");
                if (output is not null)
                {
                    Check(output.WrittenCount == written, "Complete did not advance the buffer writer by the header size");
                    output.WrittenSpan.CopyTo(buffer);
                }

                CompareWritten(buffer.AsSpan(0, written), e, "v2 description");
                break;
            }
        }
    }

    private static List<(byte Type, byte[] Value)> AddDescribedTlvs(ref ProxyV2HeaderWriter writer, ref Cursor c)
    {
        var expected = new List<(byte Type, byte[] Value)>();
        int count = c.Next() % 8;
        bool crc = false;
        for (int i = 0; i < count && !c.IsEnd; i++)
        {
            int op = c.Next() % 12;
            byte[] value = c.Take(c.Next()).ToArray();
            switch (op)
            {
                case 0:
                    writer.AddAlpn(value);
                    expected.Add(((byte)ProxyTlvType.Alpn, value));
                    break;
                case 1:
                    writer.AddAuthority(value);
                    expected.Add(((byte)ProxyTlvType.Authority, value));
                    break;
                case 2:
                {
                    string text = Encoding.UTF8.GetString(value);
                    writer.AddAuthority(text);
                    expected.Add(((byte)ProxyTlvType.Authority, Encoding.UTF8.GetBytes(text)));
                    break;
                }

                case 3:
                {
                    byte[] id = value.AsSpan(0, Math.Min(value.Length, 128)).ToArray();
                    writer.AddUniqueId(id);
                    expected.Add(((byte)ProxyTlvType.UniqueId, id));
                    break;
                }

                case 4:
                    writer.AddNetworkNamespace(value);
                    expected.Add(((byte)ProxyTlvType.NetworkNamespace, value));
                    break;
                case 5:
                    writer.AddNoop(value.Length);
                    expected.Add(((byte)ProxyTlvType.Noop, new byte[value.Length]));
                    break;
                case 6:
                    writer.AddAwsVpcEndpointId(value);
                    expected.Add(((byte)ProxyTlvType.Aws, [0x01, .. value]));
                    break;
                case 7:
                {
                    byte[] le = new byte[5];
                    le[0] = 0x01;
                    value.AsSpan(0, Math.Min(4, value.Length)).CopyTo(le.AsSpan(1));
                    writer.AddAzurePrivateLinkId(BinaryPrimitives.ReadUInt32LittleEndian(le.AsSpan(1)));
                    expected.Add(((byte)ProxyTlvType.Azure, le));
                    break;
                }

                case 8:
                {
                    byte[] be = new byte[8];
                    value.AsSpan(0, Math.Min(8, value.Length)).CopyTo(be);
                    writer.AddGcpPscConnectionId(BinaryPrimitives.ReadUInt64BigEndian(be));
                    expected.Add(((byte)ProxyTlvType.GcpPscConnectionId, be));
                    break;
                }

                case 9 when !crc:
                    writer.AddCrc32C();
                    crc = true;
                    expected.Add(((byte)ProxyTlvType.Crc32C, []));
                    break;
                case 10:
                {
                    byte client = (byte)(value.Length > 0 ? value[0] & 0x07 : 0);
                    uint verify = value.Length >= 5 ? BinaryPrimitives.ReadUInt32BigEndian(value.AsSpan(1)) : (uint)value.Length;
                    writer.BeginSsl((ProxySslClient)client, verify);
                    var ssl = new List<byte> { client, (byte)(verify >> 24), (byte)(verify >> 16), (byte)(verify >> 8), (byte)verify };
                    int subs = c.Next() % 5;
                    for (int s = 0; s < subs; s++)
                    {
                        byte subType = c.Next();
                        byte[] subValue = c.Take(c.Next()).ToArray();
                        if ((subType & 1) != 0)
                        {
                            string text = Encoding.UTF8.GetString(subValue);
                            subValue = Encoding.UTF8.GetBytes(text);
                            writer.AddSslSubTlv((ProxyTlvType)subType, text);
                        }
                        else
                        {
                            writer.AddSslSubTlv((ProxyTlvType)subType, subValue);
                        }

                        ssl.Add(subType);
                        ssl.Add((byte)(subValue.Length >> 8));
                        ssl.Add((byte)subValue.Length);
                        ssl.AddRange(subValue);
                    }

                    writer.EndSsl();
                    expected.Add(((byte)ProxyTlvType.Ssl, [.. ssl]));
                    break;
                }

                default:
                {
                    // Any other type; the three the parser validates (CRC32C, UNIQUE_ID, SSL) go through their own
                    // methods above, so they are moved to the experimental range here.
                    byte type = c.Next();
                    if (type is (byte)ProxyTlvType.Crc32C or (byte)ProxyTlvType.UniqueId or (byte)ProxyTlvType.Ssl)
                    {
                        type = 0xF0;
                    }

                    writer.AddTlv(type, value);
                    expected.Add((type, value));
                    break;
                }
            }
        }

        return expected;
    }

    // Parses what a writer produced (through the whole received-bytes mode, without a second round trip) and compares
    // it with what was described.
    private static void CompareWritten(ReadOnlySpan<byte> written, Expected e, string what)
    {
        byte[] bytes = written.ToArray();
        Result r = CheckReceivedBytes(bytes, roundTrip: false);
        if (r.Status == ProxyParseStatus.Invalid && r.Error == ProxyParseError.V2HeaderTooLarge)
        {
            Check(bytes.Length > ProxyHeaderParserOptions.DefaultMaxHeaderSize, $"{what}: a written header of {bytes.Length} bytes is too large");
            r = Result.Of(new ReadOnlySequence<byte>(bytes), Largest);
        }

        Check(r.Status == ProxyParseStatus.Complete, $"{what}: the written header parses as {r.Status} {r.Error}");
        ProxyHeader h = r.Header;
        Check(h.Length == bytes.Length, $"{what}: parsed length {h.Length} of {bytes.Length} written bytes");
        Check(h.Version == e.Version && h.Command == e.Command && h.AddressFamily == e.Family && h.Transport == e.Transport, $"{what}: parsed {h.Version} {h.Command} {h.AddressFamily} {h.Transport}, expected {e.Version} {e.Command} {e.Family} {e.Transport}");
        Check(h.SourcePort == e.SourcePort && h.DestinationPort == e.DestinationPort, $"{what}: ports {h.SourcePort} {h.DestinationPort}, expected {e.SourcePort} {e.DestinationPort}");
        Span<byte> address = stackalloc byte[16];
        Check(address[..h.CopySourceAddress(address)].SequenceEqual(e.Source), $"{what}: the source address differs");
        Check(address[..h.CopyDestinationAddress(address)].SequenceEqual(e.Destination), $"{what}: the destination address differs");
        Check(h.UnixSourcePath.ToArray().AsSpan().SequenceEqual(e.SourcePath) && h.UnixDestinationPath.ToArray().AsSpan().SequenceEqual(e.DestinationPath), $"{what}: a UNIX path differs");
        List<(byte Type, byte[] Value)> parsed = Tlvs(h.Tlvs);
        Check(parsed.Count == e.Tlvs.Count, $"{what}: {parsed.Count} TLVs parsed, {e.Tlvs.Count} written");
        for (int i = 0; i < parsed.Count; i++)
        {
            bool sameValue = e.Tlvs[i].Type == (byte)ProxyTlvType.Crc32C ? parsed[i].Value.Length == 4 : parsed[i].Value.AsSpan().SequenceEqual(e.Tlvs[i].Value);
            Check(parsed[i].Type == e.Tlvs[i].Type && sameValue, $"{what}: TLV {i} (0x{e.Tlvs[i].Type:X2}) differs");
        }
    }

    // ---------------------------------------------------------------- helpers

    private static ProxyProtocolReceiver[] CreateReceivers()
    {
        var list = new List<ProxyProtocolReceiver>();
        (ProxyProtocolMode Mode, ProxyProtocolVersions Versions, int Max)[] settings =
        [
            (ProxyProtocolMode.Required, ProxyProtocolVersions.All, ProxyHeaderParserOptions.DefaultMaxHeaderSize),
            (ProxyProtocolMode.Optional, ProxyProtocolVersions.All, ProxyHeaderParserOptions.MinMaxHeaderSize),
            (ProxyProtocolMode.Optional, ProxyProtocolVersions.V2, ProxyHeaderParserOptions.MaxMaxHeaderSize),
            (ProxyProtocolMode.Required, ProxyProtocolVersions.V1, ProxyHeaderParserOptions.DefaultMaxHeaderSize),
        ];
        foreach ((ProxyProtocolMode mode, ProxyProtocolVersions versions, int max) in settings)
        {
            var errors = new List<string>();
            var options = new ProxyProtocolOptions { Mode = mode, AllowedVersions = versions, MaxHeaderSize = max };
            if (!ProxyProtocolReceiver.TryCreate(options, "Fuzz", errors, out ProxyProtocolReceiver? receiver))
            {
                throw new InvalidOperationException(string.Join("; ", errors));
            }

            list.Add(receiver!);
        }

        return [.. list];
    }

    private static byte[] WriteBuffer() => t_writeBuffer ??= new byte[WriteBufferSize];

    private static byte[] UpToNul(byte[] path)
    {
        int nul = Array.IndexOf(path, (byte)0);
        return nul < 0 ? path : path[..nul];
    }

    private static List<(byte Type, byte[] Value)> Tlvs(ProxyTlvs tlvs)
    {
        var list = new List<(byte Type, byte[] Value)>();
        foreach (ProxyTlv tlv in tlvs)
        {
            list.Add((tlv.Type, tlv.Value.ToArray()));
        }

        return list;
    }

    // An independent walk of a TLV region; the parser accepted it, so it must be an exact sequence of whole TLVs.
    private static List<(byte Type, byte[] Value)> WalkTlvs(byte[] region, string what)
    {
        var list = new List<(byte Type, byte[] Value)>();
        int offset = 0;
        while (offset < region.Length)
        {
            Check(region.Length - offset >= 3, $"{what}: a TLV header is truncated");
            int length = (region[offset + 1] << 8) | region[offset + 2];
            Check(length <= region.Length - offset - 3, $"{what}: a TLV value is truncated");
            list.Add((region[offset], region.AsSpan(offset + 3, length).ToArray()));
            offset += 3 + length;
        }

        return list;
    }

    private static (byte Type, byte[] Value)? First(List<(byte Type, byte[] Value)> tlvs, byte type)
    {
        foreach ((byte Type, byte[] Value) tlv in tlvs)
        {
            if (tlv.Type == type)
            {
                return tlv;
            }
        }

        return null;
    }

    private static void ExpectFirst(List<(byte Type, byte[] Value)> tlvs, byte type, bool found, in ReadOnlySequence<byte> value, string what)
    {
        (byte Type, byte[] Value)? first = First(tlvs, type);
        Check(found == first is not null, $"TryGet {what}: found={found}, expected {first is not null}");
        Check(!found || value.ToArray().AsSpan().SequenceEqual(first!.Value.Value), $"TryGet {what}: wrong value");
    }

    private static void Same(in Result a, in Result b, string what)
    {
        Check(a.Status == b.Status && a.Error == b.Error, $"{what}: {b.Status} {b.Error}, contiguous {a.Status} {a.Error}");
        if (a.Status == ProxyParseStatus.Complete)
        {
            SameHeader(a.Header, b.Header, what);
        }
    }

    private static void SameHeader(in ProxyHeader a, in ProxyHeader b, string what)
    {
        Check(a.Version == b.Version && a.Command == b.Command && a.AddressFamily == b.AddressFamily && a.Transport == b.Transport, $"{what}: header kind differs");
        Check(a.Length == b.Length && a.SourcePort == b.SourcePort && a.DestinationPort == b.DestinationPort, $"{what}: length or ports differ");
        Span<byte> x = stackalloc byte[16];
        Span<byte> y = stackalloc byte[16];
        Check(x[..a.CopySourceAddress(x)].SequenceEqual(y[..b.CopySourceAddress(y)]), $"{what}: source address differs");
        Check(x[..a.CopyDestinationAddress(x)].SequenceEqual(y[..b.CopyDestinationAddress(y)]), $"{what}: destination address differs");
        Check(a.RawBytes.ToArray().AsSpan().SequenceEqual(b.RawBytes.ToArray()), $"{what}: raw bytes differ");
        Check(a.Tlvs.RawBytes.ToArray().AsSpan().SequenceEqual(b.Tlvs.RawBytes.ToArray()), $"{what}: TLV bytes differ");
        Check(a.UnixSourcePath.ToArray().AsSpan().SequenceEqual(b.UnixSourcePath.ToArray()) && a.UnixDestinationPath.ToArray().AsSpan().SequenceEqual(b.UnixDestinationPath.ToArray()), $"{what}: UNIX paths differ");
    }

    private static int[] SplitPoints(byte[] data, uint seed)
    {
        uint state = seed | 1;
        int count = 1 + (int)(seed % 4);
        int[] points = new int[count];
        for (int i = 0; i < count; i++)
        {
            state ^= state << 13;
            state ^= state >> 17;
            state ^= state << 5;
            points[i] = (int)(state % (uint)(data.Length + 1));
        }

        Array.Sort(points);
        return points;
    }

    private static uint Fnv(byte[] data)
    {
        uint hash = 2166136261;
        foreach (byte b in data)
        {
            hash = (hash ^ b) * 16777619;
        }

        return hash;
    }

    private static void Check(bool condition, string message)
    {
        if (!condition)
        {
            throw new FuzzInvariantException(message);
        }
    }

    private readonly struct Result
    {
        private Result(ProxyParseStatus status, ProxyHeader header, ProxyParseError error)
        {
            Status = status;
            Header = header;
            Error = error;
        }

        public ProxyParseStatus Status { get; }

        public ProxyHeader Header { get; }

        public ProxyParseError Error { get; }

        public static Result Of(in ReadOnlySequence<byte> buffer, in ProxyHeaderParserOptions options)
        {
            ProxyParseStatus status = ProxyHeaderParser.Parse(buffer, options, out ProxyHeader header, out ProxyParseError error);
            return new Result(status, header, error);
        }
    }

    // What a parsed header must hold, computed from the description without the codec.
    private sealed class Expected
    {
        public ProxyProtocolVersion Version { get; init; }

        public ProxyCommand Command { get; init; }

        public ProxyAddressFamily Family { get; init; }

        public ProxyTransport Transport { get; init; }

        public byte[] Source { get; init; } = [];

        public byte[] Destination { get; init; } = [];

        public int SourcePort { get; init; }

        public int DestinationPort { get; init; }

        public byte[] SourcePath { get; init; } = [];

        public byte[] DestinationPath { get; init; } = [];

        public List<(byte Type, byte[] Value)> Tlvs { get; set; } = [];

        public static Expected Unknown(ProxyProtocolVersion version, ProxyCommand command, ProxyTransport transport) =>
            new() { Version = version, Command = command, Family = ProxyAddressFamily.Unspecified, Transport = transport };

        public static Expected ForUnix(ProxyTransport transport, byte[] sourcePath, byte[] destinationPath) =>
            new()
            {
                Version = ProxyProtocolVersion.V2,
                Command = ProxyCommand.Proxy,
                Family = ProxyAddressFamily.Unix,
                Transport = transport,
                SourcePath = sourcePath,
                DestinationPath = destinationPath,
            };

        public static Expected ForIP(ProxyProtocolVersion version, ProxyTransport transport, IPAddress source, int sourcePort, IPAddress destination, int destinationPort, List<(byte Type, byte[] Value)> tlvs)
        {
            bool v4 = IsV4(source) && IsV4(destination);
            return new Expected
            {
                Version = version,
                Command = ProxyCommand.Proxy,
                Family = v4 ? ProxyAddressFamily.InterNetwork : ProxyAddressFamily.InterNetworkV6,
                Transport = transport,
                Source = Bytes(source, v4),
                Destination = Bytes(destination, v4),
                SourcePort = sourcePort,
                DestinationPort = destinationPort,
                Tlvs = tlvs,
            };
        }

        private static bool IsV4(IPAddress a) => a.AddressFamily == AddressFamily.InterNetwork || a.IsIPv4MappedToIPv6;

        private static byte[] Bytes(IPAddress a, bool v4)
        {
            byte[] raw = a.GetAddressBytes();
            if (v4)
            {
                return raw.Length == 4 ? raw : raw[12..];
            }

            return raw.Length == 16 ? raw : [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xFF, 0xFF, .. raw];
        }
    }

    private ref struct Cursor
    {
        private readonly ReadOnlySpan<byte> _data;
        private int _position;

        public Cursor(ReadOnlySpan<byte> data)
        {
            _data = data;
            _position = 0;
        }

        public readonly bool IsEnd => _position >= _data.Length;

        public byte Next() => _position < _data.Length ? _data[_position++] : (byte)0;

        public ushort NextUInt16() => (ushort)((Next() << 8) | Next());

        public ReadOnlySpan<byte> Take(int count)
        {
            int n = Math.Min(count, _data.Length - _position);
            ReadOnlySpan<byte> taken = _data.Slice(_position, n);
            _position += n;
            return taken;
        }

        // Flags: bit 0 IPv4 (else IPv6), bit 1 an IPv6 scope id (the writers drop it), bit 2 IPv4-mapped IPv6.
        public IPAddress NextAddress()
        {
            byte flags = Next();
            Span<byte> bytes = stackalloc byte[16];
            bytes.Clear();
            if ((flags & 1) != 0)
            {
                Take(4).CopyTo(bytes);
                return new IPAddress(bytes[..4]);
            }

            if ((flags & 4) != 0)
            {
                bytes[10] = 0xFF;
                bytes[11] = 0xFF;
                Take(4).CopyTo(bytes[12..]);
            }
            else
            {
                Take(16).CopyTo(bytes);
            }

            var address = new IPAddress(bytes);
            if ((flags & 2) != 0)
            {
                address.ScopeId = 1 + Next();
            }

            return address;
        }
    }
}

/// <summary>Builds multi-segment sequences over copies of the input (empty segments kept).</summary>
public static class FuzzSegments
{
    public static ReadOnlySequence<byte> Split(byte[] data, int[] ascendingPositions)
    {
        ArgumentNullException.ThrowIfNull(data);
        ArgumentNullException.ThrowIfNull(ascendingPositions);
        if (ascendingPositions.Length == 0)
        {
            return new ReadOnlySequence<byte>(data.ToArray());
        }

        var first = new Segment(data.AsSpan(0, ascendingPositions[0]).ToArray(), 0);
        Segment last = first;
        for (int i = 0; i < ascendingPositions.Length; i++)
        {
            int start = ascendingPositions[i];
            int end = i + 1 < ascendingPositions.Length ? ascendingPositions[i + 1] : data.Length;
            last = last.Append(data.AsSpan(start, end - start).ToArray());
        }

        return new ReadOnlySequence<byte>(first, 0, last, last.Memory.Length);
    }

    public static ReadOnlySequence<byte> Bytewise(byte[] data)
    {
        ArgumentNullException.ThrowIfNull(data);
        if (data.Length <= 1)
        {
            return new ReadOnlySequence<byte>(data.ToArray());
        }

        int[] positions = new int[data.Length - 1];
        for (int i = 0; i < positions.Length; i++)
        {
            positions[i] = i + 1;
        }

        return Split(data, positions);
    }

    private sealed class Segment : ReadOnlySequenceSegment<byte>
    {
        public Segment(ReadOnlyMemory<byte> memory, long runningIndex)
        {
            Memory = memory;
            RunningIndex = runningIndex;
        }

        public Segment Append(ReadOnlyMemory<byte> memory)
        {
            var next = new Segment(memory, RunningIndex + Memory.Length);
            Next = next;
            return next;
        }
    }
}
