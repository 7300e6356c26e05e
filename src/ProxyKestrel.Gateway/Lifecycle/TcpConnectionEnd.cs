namespace ProxyKestrel.Gateway.Lifecycle;

/// <summary>
/// Why a TCP route connection ended: one typed value that gives both the <c>proxykestrel.result</c> tag of the metrics
/// (<see cref="TcpConnectionEnds.Result"/>) and, with the phase, HAProxy's two-character termination state in the
/// access log (<see cref="TcpConnectionEnds.TerminationState"/>).
/// </summary>
internal enum TcpConnectionEnd
{
    /// <summary>Relayed; both sides closed normally. <c>completed</c>, <c>--</c>.</summary>
    Completed,

    /// <summary>The client reset or went away. <c>reset</c>; <c>CR</c>, <c>CC</c>, <c>CD</c> by phase.</summary>
    ClientAborted,

    /// <summary>The backend reset during the relay. <c>reset</c>, <c>SD</c>.</summary>
    ServerAborted,

    /// <summary>The client side was quiet for <c>ClientTimeout</c>. <c>idle_timeout</c>, <c>cD</c>.</summary>
    ClientTimeout,

    /// <summary>The server side was quiet for <c>ServerTimeout</c>. <c>idle_timeout</c>, <c>sD</c>.</summary>
    ServerTimeout,

    /// <summary>Killed at the end of a drain that timed out. <c>aborted</c>; <c>KR</c>, <c>KC</c>, <c>KD</c> by phase.</summary>
    Killed,

    /// <summary>No complete upstream PROXY header within its timeout. <c>header_timeout</c>, <c>cR</c>.</summary>
    HeaderTimeout,

    /// <summary>A bad upstream PROXY header (or a close before it was complete). <c>header_rejected</c>, <c>PR</c>.</summary>
    HeaderRejected,

    /// <summary>A peer outside <c>TrustedNetworks</c> on a route that rejects them. <c>untrusted_peer</c>, <c>PR</c>.</summary>
    UntrustedPeer,

    /// <summary>The client is not in <c>AllowedClients</c>. <c>client_not_allowed</c>, <c>PR</c>.</summary>
    ClientNotAllowed,

    /// <summary>No route of the listener matched the connection and none is its default. <c>no_route</c>, <c>PR</c>.</summary>
    NoRoute,

    /// <summary>The route's <c>MaxConnections</c> were open. <c>max_connections</c>, <c>RC</c>.</summary>
    MaxConnections,

    /// <summary>The route's cluster does not exist. <c>no_cluster</c>, <c>SC</c>.</summary>
    NoCluster,

    /// <summary>Every destination refused or failed, the last with an error. <c>no_destination</c>, <c>SC</c>.</summary>
    ConnectFailed,

    /// <summary>Every destination failed, the last by <c>ConnectTimeout</c>. <c>no_destination</c>, <c>sC</c>.</summary>
    ConnectTimeout,

    /// <summary>A mail client quit or went away before it logged in. <c>login_abandoned</c>, <c>CR</c>.</summary>
    LoginAbandoned,

    /// <summary>A mail client did not log in within <c>LoginTimeout</c>. <c>login_timeout</c>, <c>cR</c>.</summary>
    LoginTimeout,

    /// <summary>
    /// A mail client's logins were refused too often, or it broke the protocol (too many bad commands, a line too long).
    /// <c>login_failed</c>, <c>PR</c>.
    /// </summary>
    LoginFailed,

    /// <summary>The TLS handshake with a mail client failed. <c>tls_failed</c>, <c>CR</c>.</summary>
    TlsFailed,
}
