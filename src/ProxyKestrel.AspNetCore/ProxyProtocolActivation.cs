namespace ProxyKestrel.AspNetCore;

/// <summary>The application-wide switch flipped by <c>app.UseProxyProtocol()</c>, with the settings it validated.</summary>
internal sealed class ProxyProtocolActivation
{
    private ProxyProtocolReceiver? _settings;

    public bool IsActive => Volatile.Read(ref _settings) is not null;

    public ProxyProtocolReceiver? Settings => Volatile.Read(ref _settings);

    public void Activate(ProxyProtocolReceiver settings) => Volatile.Write(ref _settings, settings);
}
