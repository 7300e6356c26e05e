using System.Diagnostics.CodeAnalysis;
using System.Net;
using System.Net.Sockets;

namespace ProxyKestrel.ProxyProtocol;

/// <summary>
/// One received datagram as <see cref="ProxyDatagramReceiver"/> classified it: its PROXY header (if any), the payload
/// after it and, when rejected, why. <see cref="Payload"/> and the header's TLVs are slices of the buffer that was
/// received into (nothing is copied): they are valid until that buffer is reused.
/// </summary>
public readonly struct ProxyDatagram
{
    private static readonly IPEndPoint IPv4Template = new(IPAddress.Any, 0);
    private static readonly IPEndPoint IPv6Template = new(IPAddress.IPv6Any, 0);

    internal ProxyDatagram(ProxyHeader header, bool hasHeader, ReadOnlyMemory<byte> payload, ProxyParseError error, ProxyDatagramRejection rejection)
    {
        Header = header;
        HasHeader = hasHeader;
        Payload = payload;
        Error = error;
        Rejection = rejection;
    }

    /// <summary>The v2 header of an accepted datagram; <c>default</c> when <see cref="HasHeader"/> is false.</summary>
    public ProxyHeader Header { get; }

    /// <summary>True when the datagram was <see cref="ProxyDatagramStatus.Accepted"/> with a header (PROXY or LOCAL).</summary>
    public bool HasHeader { get; }

    /// <summary>
    /// The application data: the bytes after the header (possibly empty) when accepted, the whole datagram for
    /// <see cref="ProxyDatagramStatus.NoHeader"/>, empty when rejected. A slice of the received buffer.
    /// </summary>
    public ReadOnlyMemory<byte> Payload { get; }

    /// <summary>The parser's reason for <see cref="ProxyDatagramRejection.InvalidHeader"/>, <see cref="ProxyDatagramRejection.MissingHeader"/> and <see cref="ProxyDatagramRejection.V1Header"/>; otherwise <see cref="ProxyParseError.None"/>.</summary>
    public ProxyParseError Error { get; }

    /// <summary>Why the datagram was rejected; <see cref="ProxyDatagramRejection.None"/> unless the status is <see cref="ProxyDatagramStatus.Rejected"/>.</summary>
    public ProxyDatagramRejection Rejection { get; }

    /// <summary>
    /// The client the header announces (its source address and port), when it carries IP endpoints (a PROXY command
    /// with family INET or INET6). False for LOCAL, UNSPEC, UNIX, no header or a rejected datagram: the client is then
    /// the real remote endpoint. Allocates the endpoint only when true; <see cref="ProxyHeader.CopySourceAddress"/> and
    /// <see cref="ProxyHeader.SourcePort"/> read it without allocating.
    /// </summary>
    public bool TryGetClientEndPoint([NotNullWhen(true)] out IPEndPoint? client)
    {
        client = HasHeader ? Header.GetSourceEndPoint() : null;
        return client is not null;
    }

    /// <summary>The announced client (see <see cref="TryGetClientEndPoint"/>), else <paramref name="remote"/> itself.</summary>
    public EndPoint GetClientEndPoint(EndPoint remote)
    {
        ArgumentNullException.ThrowIfNull(remote);
        return TryGetClientEndPoint(out IPEndPoint? client) ? client : remote;
    }

    /// <summary>
    /// The announced client (see <see cref="TryGetClientEndPoint"/>), else <paramref name="remote"/> as a new
    /// <see cref="IPEndPoint"/>. Allocates.
    /// </summary>
    /// <exception cref="ArgumentException"><paramref name="remote"/> is needed and is not an IPv4 or IPv6 socket address.</exception>
    public IPEndPoint GetClientEndPoint(SocketAddress remote)
    {
        ArgumentNullException.ThrowIfNull(remote);
        if (TryGetClientEndPoint(out IPEndPoint? client))
        {
            return client;
        }

        IPEndPoint template = remote.Family switch
        {
            AddressFamily.InterNetwork => IPv4Template,
            AddressFamily.InterNetworkV6 => IPv6Template,
            _ => throw new ArgumentException($"The socket address is of family {remote.Family}, not IPv4 or IPv6.", nameof(remote)),
        };
        return (IPEndPoint)template.Create(remote);
    }
}
