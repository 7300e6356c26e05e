namespace ProxyKestrel.Gateway.Lifecycle;

/// <summary>The names of a <see cref="TcpConnectionEnd"/> in the metrics and in the access log.</summary>
internal static class TcpConnectionEnds
{
    /// <summary>The <c>proxykestrel.result</c> tag of <c>proxykestrel.tcp.connections</c>.</summary>
    public static string Result(this TcpConnectionEnd end) => end switch
    {
        TcpConnectionEnd.Completed => "completed",
        TcpConnectionEnd.ClientAborted or TcpConnectionEnd.ServerAborted => "reset",
        TcpConnectionEnd.ClientTimeout or TcpConnectionEnd.ServerTimeout => "idle_timeout",
        TcpConnectionEnd.Killed => "aborted",
        TcpConnectionEnd.HeaderTimeout => "header_timeout",
        TcpConnectionEnd.HeaderRejected => "header_rejected",
        TcpConnectionEnd.UntrustedPeer => "untrusted_peer",
        TcpConnectionEnd.ClientNotAllowed => "client_not_allowed",
        TcpConnectionEnd.NoRoute => "no_route",
        TcpConnectionEnd.MaxConnections => "max_connections",
        TcpConnectionEnd.NoCluster => "no_cluster",
        TcpConnectionEnd.LoginAbandoned => "login_abandoned",
        TcpConnectionEnd.LoginTimeout => "login_timeout",
        TcpConnectionEnd.LoginFailed => "login_failed",
        TcpConnectionEnd.TlsFailed => "tls_failed",
        _ => "no_destination",
    };

    /// <summary>
    /// HAProxy's termination state: who or what ended the connection (<c>C</c> client, <c>S</c> server, <c>c</c>/<c>s</c>
    /// a client/server-side timeout, <c>P</c> the proxy refused, <c>R</c> a resource limit, <c>K</c> killed, <c>-</c>
    /// normal) and the phase (<c>R</c> request, <c>C</c> connect, <c>D</c> data, <c>-</c> normal).
    /// </summary>
    public static string TerminationState(this TcpConnectionEnd end, TcpConnectionPhase phase) => end switch
    {
        TcpConnectionEnd.Completed => "--",
        TcpConnectionEnd.ClientAborted => phase switch { TcpConnectionPhase.Request => "CR", TcpConnectionPhase.Connect => "CC", _ => "CD" },
        TcpConnectionEnd.ServerAborted => "SD",
        TcpConnectionEnd.ClientTimeout => "cD",
        TcpConnectionEnd.ServerTimeout => "sD",
        TcpConnectionEnd.Killed => phase switch { TcpConnectionPhase.Request => "KR", TcpConnectionPhase.Connect => "KC", _ => "KD" },
        TcpConnectionEnd.HeaderTimeout or TcpConnectionEnd.LoginTimeout => "cR",
        TcpConnectionEnd.LoginAbandoned or TcpConnectionEnd.TlsFailed => "CR",
        TcpConnectionEnd.HeaderRejected or TcpConnectionEnd.UntrustedPeer or TcpConnectionEnd.ClientNotAllowed or TcpConnectionEnd.NoRoute
            or TcpConnectionEnd.LoginFailed => "PR",
        TcpConnectionEnd.MaxConnections => "RC",
        TcpConnectionEnd.ConnectTimeout => "sC",
        _ => "SC",
    };

    /// <summary>How the sockets are closed after this end.</summary>
    public static CloseMode CloseMode(this TcpConnectionEnd end) => end switch
    {
        TcpConnectionEnd.Completed => Lifecycle.CloseMode.Normal,
        TcpConnectionEnd.ClientAborted or TcpConnectionEnd.ServerAborted => Lifecycle.CloseMode.Reset,
        _ => Lifecycle.CloseMode.Abort,
    };

    public static TcpConnectionEnd FromRelay(RelayEnd end) => end switch
    {
        RelayEnd.Completed => TcpConnectionEnd.Completed,
        RelayEnd.ClientAborted => TcpConnectionEnd.ClientAborted,
        RelayEnd.ServerAborted => TcpConnectionEnd.ServerAborted,
        RelayEnd.ClientTimeout => TcpConnectionEnd.ClientTimeout,
        RelayEnd.ServerTimeout => TcpConnectionEnd.ServerTimeout,
        _ => TcpConnectionEnd.Killed,
    };
}
