namespace ProxyKestrel.Gateway.Lifecycle;

/// <summary>How a name lookup or a connection attempt to a destination ended.</summary>
internal enum ConnectStatus
{
    Connected,
    Failed,
    TimedOut,
    Killed,
}
