namespace ProxyKestrel.ProxyProtocol;

/// <summary>The PROXY protocol header format.</summary>
public enum ProxyProtocolVersion : byte
{
    /// <summary>Version 1, the human-readable text line (<c>PROXY TCP4 ...\r\n</c>).</summary>
    V1 = 1,

    /// <summary>Version 2, the binary format that starts with a 12-byte signature.</summary>
    V2 = 2,
}
