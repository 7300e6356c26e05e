namespace ProxyKestrel.Gateway.Lifecycle;

/// <summary>What <see cref="ITcpConnectionIo.ReceiveAsync"/> ended with.</summary>
internal enum ReceiveStatus
{
    /// <summary>More bytes are in <see cref="ITcpConnectionIo.Received"/> (or the wait was woken early: look again).</summary>
    Received,

    /// <summary>The client half-closed (FIN); what it sent before is in <see cref="ITcpConnectionIo.Received"/>.</summary>
    Ended,

    /// <summary>The client reset the connection.</summary>
    Reset,

    /// <summary>The deadline passed.</summary>
    TimedOut,

    /// <summary>The transport holds as many bytes as it reads before a backend connection; none more will come.</summary>
    Full,

    /// <summary>The connection was killed (the end of a drain that timed out).</summary>
    Killed,
}
