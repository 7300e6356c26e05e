namespace ProxyKestrel.ProxyProtocol;

/// <summary>Whether a trusted peer must send a PROXY header.</summary>
public enum ProxyProtocolMode
{
    /// <summary>A trusted peer must send a complete, valid header first; anything else closes the connection.</summary>
    Required,

    /// <summary>
    /// A trusted peer may send no header: when the first bytes cannot start a header, the connection goes on with
    /// its real endpoints. The specification forbids such guessing for good reason: use it only while migrating,
    /// and only with a narrow <see cref="ProxyProtocolOptions.TrustedNetworks"/>.
    /// </summary>
    Optional,
}
