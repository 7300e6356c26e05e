using System.Buffers;
using System.Text;

namespace ProxyKestrel.Gateway.Lifecycle;

/// <summary>What <see cref="HttpRequestHost.TryRead"/> found.</summary>
internal enum HttpHostStatus
{
    /// <summary>The request head (up to its empty line) is not complete yet.</summary>
    NeedMoreData,

    /// <summary>The head names a host.</summary>
    Found,

    /// <summary>The head is complete but names no host, names two, or is not an HTTP/1.x request head.</summary>
    NotFound,
}

/// <summary>
/// Reads the host of the first HTTP/1.x request without consuming anything: the authority of an absolute-form target
/// (RFC 9112 §3.2.2, which then wins over Host), else the one Host header field; without its port, lower-cased.
/// </summary>
internal static class HttpRequestHost
{
    private static readonly System.Buffers.SearchValues<char> s_schemeChars =
        System.Buffers.SearchValues.Create("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789+-.");

    private static ReadOnlySpan<byte> EndOfHead => "\r\n\r\n"u8;

    public static HttpHostStatus TryRead(in ReadOnlySequence<byte> input, out string? host)
    {
        host = null;
        SequenceReader<byte> reader = new(input);
        if (!reader.TryReadTo(out ReadOnlySequence<byte> head, EndOfHead, advancePastDelimiter: false))
        {
            return HttpHostStatus.NeedMoreData;
        }

        string text = Encoding.Latin1.GetString(head);
        string[] lines = text.Split("\r\n");
        string[] requestLine = lines[0].Split(' ');
        if (requestLine.Length != 3 || !requestLine[2].StartsWith("HTTP/1.", StringComparison.Ordinal))
        {
            return HttpHostStatus.NotFound;
        }

        string target = requestLine[1];
        int scheme = target.IndexOf("://", StringComparison.Ordinal);
        if (scheme > 0 && target.AsSpan(0, scheme).IndexOfAnyExcept(s_schemeChars) < 0)
        {
            string authority = target[(scheme + 3)..];
            int end = authority.IndexOfAny(['/', '?', '#']);
            host = HostOf(end < 0 ? authority : authority[..end]);
            return host is null ? HttpHostStatus.NotFound : HttpHostStatus.Found;
        }

        string? found = null;
        for (int i = 1; i < lines.Length; i++)
        {
            int colon = lines[i].IndexOf(':', StringComparison.Ordinal);
            if (colon <= 0 || !lines[i].AsSpan(0, colon).Equals("Host", StringComparison.OrdinalIgnoreCase))
            {
                continue;
            }

            if (found is not null)
            {
                return HttpHostStatus.NotFound; // Two Host fields: the request is invalid (RFC 9112 §3.2).
            }

            found = lines[i][(colon + 1)..].Trim(' ', '\t');
        }

        host = found is null ? null : HostOf(found);
        return host is null ? HttpHostStatus.NotFound : HttpHostStatus.Found;
    }

    /// <summary>The host of <c>host[:port]</c> (an IPv6 literal without its brackets), lower-cased; null when empty or with user info.</summary>
    private static string? HostOf(string authority)
    {
        if (authority.Length == 0 || authority.Contains('@', StringComparison.Ordinal))
        {
            return null;
        }

        string host;
        if (authority[0] == '[')
        {
            int close = authority.IndexOf(']', StringComparison.Ordinal);
            if (close < 0)
            {
                return null;
            }

            host = authority[1..close];
        }
        else
        {
            int colon = authority.LastIndexOf(':');
            host = colon < 0 ? authority : authority[..colon];
        }

        return host.Length == 0 ? null : host.ToLowerInvariant();
    }
}
