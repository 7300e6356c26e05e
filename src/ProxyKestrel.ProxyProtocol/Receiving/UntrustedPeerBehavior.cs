namespace ProxyKestrel.ProxyProtocol;

/// <summary>What happens to a connection from a peer outside <see cref="ProxyProtocolOptions.TrustedNetworks"/>.</summary>
public enum UntrustedPeerBehavior
{
    /// <summary>Close the connection at once, without reading anything as a header.</summary>
    Reject,

    /// <summary>Expect no header: the connection goes on with its real socket endpoints, and nothing is parsed.</summary>
    Passthrough,
}
