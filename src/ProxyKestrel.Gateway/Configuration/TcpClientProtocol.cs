namespace ProxyKestrel.Gateway.Configuration;

/// <summary>What a client's first bytes say it speaks (<see cref="TcpRouteMatch.Protocol"/>), sniffed without consuming them.</summary>
public enum TcpClientProtocol
{
    /// <summary>A TLS ClientHello (record type 22, version 3.x).</summary>
    Tls,

    /// <summary>An HTTP/1.x request line (a method, a space) or the HTTP/2 connection preface.</summary>
    Http,

    /// <summary>An SSH identification string (<c>SSH-</c>).</summary>
    Ssh,

    /// <summary>Anything else, including a client that sent nothing within <see cref="TcpRouteConfig.InspectTimeout"/>.</summary>
    Other,
}
