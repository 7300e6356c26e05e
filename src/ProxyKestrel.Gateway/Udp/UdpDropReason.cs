namespace ProxyKestrel.Gateway.Udp;

/// <summary>Why a datagram was dropped: the <c>proxykestrel.reason</c> tag of <c>proxykestrel.udp.dropped_datagrams</c>.</summary>
internal static class UdpDropReason
{
    /// <summary>A new client while the route has <c>MaxSessions</c> sessions.</summary>
    public const string MaxSessions = "max_sessions";

    /// <summary>Header and payload together exceed 65,507 bytes; never truncated.</summary>
    public const string TooLarge = "too_large";

    /// <summary>A new client while the gateway drains.</summary>
    public const string Draining = "draining";

    /// <summary>The cluster is gone or has no destination.</summary>
    public const string NoDestination = "no_destination";

    /// <summary>Sending the datagram (to the backend, or a reply to the client) failed.</summary>
    public const string SendFailed = "send_failed";

    /// <summary>The epoll transport: a new client's destination name is being looked up (its retry finds the address).</summary>
    public const string Resolving = "resolving";

    /// <summary>An <c>AcceptProxyProtocol</c> route: a sender outside <c>TrustedNetworks</c> with <c>UntrustedPeers</c> = Reject.</summary>
    public const string UntrustedPeer = "untrusted_peer";

    /// <summary>An <c>AcceptProxyProtocol</c> route: a trusted sender's datagram without a header (Mode Required).</summary>
    public const string MissingHeader = "missing_header";

    /// <summary>An <c>AcceptProxyProtocol</c> route: the header is invalid (the <c>error.type</c>-like detail is logged).</summary>
    public const string InvalidHeader = "invalid_header";

    /// <summary>Handling the datagram failed unexpectedly (logged with its exception, event 179).</summary>
    public const string Failed = "failed";
}
