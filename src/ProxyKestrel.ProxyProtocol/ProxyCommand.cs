namespace ProxyKestrel.ProxyProtocol;

/// <summary>The command carried by a header.</summary>
public enum ProxyCommand : byte
{
    /// <summary>
    /// The connection was made by the proxy itself (for example a health check). The receiver uses the real
    /// connection endpoints.
    /// </summary>
    Local = 0,

    /// <summary>The connection was relayed on behalf of a client; the header carries the original endpoints.</summary>
    Proxy = 1,
}
