namespace ProxyKestrel.ProxyProtocol;

/// <summary>The outcome of one call to <c>ProxyHeaderParser.Parse</c>.</summary>
public enum ProxyParseStatus
{
    /// <summary>
    /// The bytes seen so far are a valid beginning of a header, but the header is not complete. Read more data
    /// and call again with all the bytes since the start of the connection; nothing may be consumed yet.
    /// </summary>
    NeedMoreData,

    /// <summary>A complete, valid header was parsed; <see cref="ProxyHeader.Length"/> bytes belong to it.</summary>
    Complete,

    /// <summary>The bytes can never become a valid header; the connection must be closed.</summary>
    Invalid,
}
