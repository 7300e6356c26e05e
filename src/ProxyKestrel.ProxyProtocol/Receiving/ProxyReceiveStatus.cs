namespace ProxyKestrel.ProxyProtocol;

/// <summary>What <see cref="ProxyProtocolReceiver.Evaluate"/> decided about the first bytes of a connection.</summary>
internal enum ProxyReceiveStatus
{
    /// <summary>Still a valid beginning of a header: read more (within the header timeout).</summary>
    NeedMoreData,

    /// <summary>A complete, valid header.</summary>
    Accepted,

    /// <summary>Optional mode and the first bytes cannot start a header: there is none.</summary>
    NoHeader,

    /// <summary>Invalid, or the peer closed before a complete header: close without writing.</summary>
    Rejected,
}
