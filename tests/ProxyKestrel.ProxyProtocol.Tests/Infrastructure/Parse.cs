using System.Buffers;

namespace ProxyKestrel.ProxyProtocol.Tests.Infrastructure;

/// <summary>The outcome of one parse, captured so it can be compared.</summary>
internal readonly record struct ParseResult(ProxyParseStatus Status, ProxyHeader Header, ProxyParseError Error);

internal static class Parse
{
    public static ParseResult Run(byte[] input) => Run(new ReadOnlySequence<byte>(input), ProxyHeaderParserOptions.Default);

    public static ParseResult Run(byte[] input, ProxyHeaderParserOptions options) => Run(new ReadOnlySequence<byte>(input), options);

    public static ParseResult Run(string input) => Run(Bytes.Ascii(input));

    public static ParseResult Run(in ReadOnlySequence<byte> input) => Run(input, ProxyHeaderParserOptions.Default);

    public static ParseResult Run(in ReadOnlySequence<byte> input, ProxyHeaderParserOptions options)
    {
        ProxyParseStatus status = ProxyHeaderParser.Parse(input, options, out ProxyHeader header, out ProxyParseError error);
        return new ParseResult(status, header, error);
    }

    public static ProxyHeader Complete(byte[] input)
    {
        ParseResult r = Run(input);
        Assert.True(r.Status == ProxyParseStatus.Complete, $"expected Complete, got {r.Status} ({r.Error})");
        Assert.Equal(ProxyParseError.None, r.Error);
        return r.Header;
    }

    public static ProxyHeader Complete(string input) => Complete(Bytes.Ascii(input));

    public static void Invalid(byte[] input, ProxyParseError expected)
    {
        ParseResult r = Run(input);
        Assert.Equal((ProxyParseStatus.Invalid, expected), (r.Status, r.Error));
    }

    public static void Invalid(string input, ProxyParseError expected) => Invalid(Bytes.Ascii(input), expected);

    public static void NeedMore(byte[] input)
    {
        ParseResult r = Run(input);
        Assert.Equal((ProxyParseStatus.NeedMoreData, ProxyParseError.None), (r.Status, r.Error));
    }

    public static void NeedMore(string input) => NeedMore(Bytes.Ascii(input));

    /// <summary>A comparable summary of everything a header exposes.</summary>
    public static string Describe(in ProxyHeader h)
    {
        var parts = new List<string>
        {
            $"v{(int)h.Version} {h.Command} {h.AddressFamily} {h.Transport} len={h.Length}",
            $"src={h.GetSourceEndPoint()} dst={h.GetDestinationEndPoint()} ports={h.SourcePort},{h.DestinationPort}",
            $"unix={Bytes.Text(h.UnixSourcePath)}|{Bytes.Text(h.UnixDestinationPath)}",
            $"raw={Convert.ToHexString(h.RawBytes.ToArray())}",
        };
        foreach (ProxyTlv tlv in h.Tlvs)
        {
            parts.Add($"tlv {tlv.Type:X2}={Convert.ToHexString(tlv.Value.ToArray())}");
        }

        if (h.TryGetSsl(out ProxySslTlv ssl))
        {
            parts.Add($"ssl {ssl.Client} {ssl.Verify}");
            foreach (ProxyTlv sub in ssl.SubTlvs)
            {
                parts.Add($"sub {sub.Type:X2}={Convert.ToHexString(sub.Value.ToArray())}");
            }
        }

        return string.Join("; ", parts);
    }
}
