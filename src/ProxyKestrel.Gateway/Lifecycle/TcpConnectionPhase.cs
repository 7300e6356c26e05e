namespace ProxyKestrel.Gateway.Lifecycle;

/// <summary>The step a connection was in when it ended: the second character of HAProxy's termination state.</summary>
internal enum TcpConnectionPhase
{
    /// <summary>Admission, the upstream PROXY header, the SNI peek (HAProxy's <c>R</c>, the request).</summary>
    Request,

    /// <summary>Choosing and connecting to a destination (<c>C</c>).</summary>
    Connect,

    /// <summary>Relaying (<c>D</c>, data).</summary>
    Data,
}
