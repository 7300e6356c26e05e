using System.Buffers;
using ProxyKestrel.Gateway.Configuration;

namespace ProxyKestrel.Gateway.Lifecycle;

/// <summary>
/// Tells from a client's first bytes what it speaks (<see cref="TcpClientProtocol"/>), or that more bytes are needed:
/// a TLS record header (22, then 3), an SSH identification (<c>SSH-</c>), an HTTP/1.x method and a space (RFC 9110's
/// methods and PATCH) or the HTTP/2 preface (<c>PRI * HTTP/2.0</c>); anything that can no longer become one of those
/// is <see cref="TcpClientProtocol.Other"/>.
/// </summary>
internal static class ProtocolSniffer
{
    private static readonly byte[][] HttpStarts =
    [
        "GET "u8.ToArray(), "HEAD "u8.ToArray(), "POST "u8.ToArray(), "PUT "u8.ToArray(), "DELETE "u8.ToArray(),
        "CONNECT "u8.ToArray(), "OPTIONS "u8.ToArray(), "TRACE "u8.ToArray(), "PATCH "u8.ToArray(), "PRI * HTTP/2.0"u8.ToArray(),
    ];

    private static readonly byte[] SshStart = "SSH-"u8.ToArray();

    /// <summary>The longest prefix that decides (the HTTP/2 preface's first line).</summary>
    private const int MaxDecidingLength = 14;

    /// <summary>What <paramref name="input"/> starts with; null when it is a prefix of more than one possibility.</summary>
    public static TcpClientProtocol? Sniff(in ReadOnlySequence<byte> input)
    {
        if (input.IsEmpty)
        {
            return null;
        }

        Span<byte> head = stackalloc byte[MaxDecidingLength];
        int length = (int)Math.Min(input.Length, MaxDecidingLength);
        input.Slice(0, length).CopyTo(head);
        head = head[..length];

        if (head[0] == 0x16)
        {
            return length < 2 ? null : head[1] == 0x03 ? TcpClientProtocol.Tls : TcpClientProtocol.Other;
        }

        bool undecided = false;
        switch (Compare(head, SshStart))
        {
            case Prefix.Complete:
                return TcpClientProtocol.Ssh;
            case Prefix.Partial:
                undecided = true;
                break;
        }

        foreach (byte[] start in HttpStarts)
        {
            switch (Compare(head, start))
            {
                case Prefix.Complete:
                    return TcpClientProtocol.Http;
                case Prefix.Partial:
                    undecided = true;
                    break;
            }
        }

        return undecided ? null : TcpClientProtocol.Other;
    }

    private static Prefix Compare(ReadOnlySpan<byte> head, ReadOnlySpan<byte> start)
    {
        int common = Math.Min(head.Length, start.Length);
        if (!head[..common].SequenceEqual(start[..common]))
        {
            return Prefix.None;
        }

        return common == start.Length ? Prefix.Complete : Prefix.Partial;
    }

    private enum Prefix
    {
        None,
        Partial,
        Complete,
    }
}
