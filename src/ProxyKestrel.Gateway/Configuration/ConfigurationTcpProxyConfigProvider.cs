using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.Primitives;

namespace ProxyKestrel.Gateway.Configuration;

/// <summary>
/// The routes and gateway-wide settings of a <c>TcpProxy</c> configuration section (<c>LoadFromConfig</c>), read
/// again when the configuration reloads. Reading errors travel with the snapshot, so the gateway refuses it listing
/// them together with the validation errors.
/// </summary>
internal sealed class ConfigurationTcpProxyConfigProvider : ITcpProxyConfigProvider
{
    private readonly Lock _lock = new();
    private ConfigurationSnapshot? _snapshot;

    public ConfigurationTcpProxyConfigProvider(IConfiguration section)
    {
        Section = section;
    }

    public IConfiguration Section { get; }

    /// <summary>The prefix of the keys in the validation errors, e.g. <c>TcpProxy:Routes</c>.</summary>
    public string RoutesPath => Section is IConfigurationSection { Path: { Length: > 0 } path } ? $"{path}:Routes" : "Routes";

    public ITcpProxyConfig GetConfig()
    {
        lock (_lock)
        {
            if (_snapshot is null || _snapshot.ChangeToken.HasChanged)
            {
                // The token is taken before reading: a change while reading fires it, and the next call reads again.
                IChangeToken token = Section.GetReloadToken();
                var errors = new List<string>();
                TcpProxyConfig config = TcpProxyConfigReader.Read(Section, errors);
                _snapshot = new ConfigurationSnapshot(config, errors, token);
            }

            return _snapshot;
        }
    }
}
