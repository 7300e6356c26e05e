namespace ProxyKestrel.AspNetCore;

/// <summary>The application-wide switch flipped by <c>app.UseProxyProtocol()</c>, with the settings it validated.</summary>
internal sealed class ProxyProtocolActivation
{
    private volatile ProxyProtocolSettings? _settings;

    public bool IsActive => _settings is not null;

    public ProxyProtocolSettings? Settings => _settings;

    public void Activate(ProxyProtocolSettings settings) => _settings = settings;
}
