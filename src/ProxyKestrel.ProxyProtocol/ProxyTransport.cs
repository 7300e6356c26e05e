namespace ProxyKestrel.ProxyProtocol;

/// <summary>The transport protocol announced by a header (the low nibble of the v2 family byte).</summary>
public enum ProxyTransport : byte
{
    /// <summary>UNSPEC: unknown or unsupported transport.</summary>
    Unspecified = 0,

    /// <summary>SOCK_STREAM: TCP or a UNIX stream socket.</summary>
    Stream = 1,

    /// <summary>SOCK_DGRAM: UDP or a UNIX datagram socket.</summary>
    Datagram = 2,
}
