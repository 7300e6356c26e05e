namespace ProxyKestrel.Gateway.Lifecycle;

/// <summary>How <see cref="ITcpConnectionIo.Close"/> closes the sockets.</summary>
internal enum CloseMode
{
    /// <summary>The relay completed: every FIN was passed on; close normally.</summary>
    Normal,

    /// <summary>Refused, failed or timed out: close now (no reset).</summary>
    Abort,

    /// <summary>A side reset: reset the other one too.</summary>
    Reset,
}
