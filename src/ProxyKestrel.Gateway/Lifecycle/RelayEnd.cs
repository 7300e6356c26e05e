namespace ProxyKestrel.Gateway.Lifecycle;

/// <summary>Why a relay ended.</summary>
internal enum RelayEnd
{
    /// <summary>Both sides half-closed, each FIN passed on after the data.</summary>
    Completed,

    /// <summary>The client reset, or sending to it failed.</summary>
    ClientAborted,

    /// <summary>The backend reset, or sending to it failed.</summary>
    ServerAborted,

    /// <summary>Nothing was received from or sent to the client for the client timeout.</summary>
    ClientTimeout,

    /// <summary>Nothing was received from or sent to the backend for the server timeout.</summary>
    ServerTimeout,

    /// <summary>Killed (the end of a drain that timed out).</summary>
    Killed,
}
