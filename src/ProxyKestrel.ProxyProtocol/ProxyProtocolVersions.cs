namespace ProxyKestrel.ProxyProtocol;

/// <summary>Which header formats a receiver accepts.</summary>
[Flags]
public enum ProxyProtocolVersions
{
    /// <summary>No version: every header is refused.</summary>
    None = 0,

    /// <summary>The text format (version 1).</summary>
    V1 = 1,

    /// <summary>The binary format (version 2).</summary>
    V2 = 2,

    /// <summary>Both formats; the first bytes of the connection decide which one is parsed.</summary>
    All = V1 | V2,
}
