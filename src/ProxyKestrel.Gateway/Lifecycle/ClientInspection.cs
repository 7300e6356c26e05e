using System.Buffers;
using ProxyKestrel.Gateway.Configuration;
using ProxyKestrel.Gateway.Routing;

namespace ProxyKestrel.Gateway.Lifecycle;

/// <summary>
/// The inspection step of <see cref="TcpConnectionLifecycle"/> on a listener whose routes match on the client's bytes:
/// what the bytes received so far show (<see cref="ClientFacts"/>), without consuming any.
/// </summary>
internal static class ClientInspection
{
    /// <summary>
    /// Updates <paramref name="facts"/> from <paramref name="received"/> (the client's bytes after any upstream
    /// header); true once everything <paramref name="table"/> matches on is known.
    /// </summary>
    public static bool Inspect(TcpRouteTable table, in ReadOnlySequence<byte> received, ref ClientFacts facts)
    {
        if (!table.NeedsProtocol)
        {
            return true;
        }

        facts.Protocol ??= ProtocolSniffer.Sniff(received);
        switch (facts.Protocol)
        {
            case null:
                return false;
            case TcpClientProtocol.Tls when table.NeedsTls:
                if (TlsClientHello.TryRead(received, readAlpn: true, out string? serverName, out string[]? alpn) == ClientHelloStatus.NeedMoreData)
                {
                    return false;
                }

                facts.ServerName = serverName;
                facts.Alpn = alpn;
                return true;
            case TcpClientProtocol.Http when table.NeedsHttp:
                if (HttpRequestHost.TryRead(received, out string? host) == HttpHostStatus.NeedMoreData)
                {
                    return false;
                }

                facts.Host = host;
                return true;
            default:
                return true;
        }
    }

    /// <summary>
    /// The inspection ended before it was complete (<c>InspectTimeout</c>, <c>MaxInspectBytes</c>, the client's FIN):
    /// what is still unknown is not there, and bytes that did not tell a protocol are <see cref="TcpClientProtocol.Other"/>.
    /// </summary>
    public static void Conclude(ref ClientFacts facts) => facts.Protocol ??= TcpClientProtocol.Other;
}
