namespace ProxyKestrel.Gateway.Lifecycle;

/// <summary>Told once how a relay started with <see cref="ITcpConnectionIo.StartRelay"/> ended.</summary>
internal interface IRelayEnded
{
    void RelayEnded(RelayResult result);
}
