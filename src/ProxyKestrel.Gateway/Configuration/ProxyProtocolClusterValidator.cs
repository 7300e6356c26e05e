using Yarp.ReverseProxy.Configuration;
using Yarp.ReverseProxy.Configuration.ClusterValidators;

namespace ProxyKestrel.Gateway.Configuration;

/// <summary>Makes YARP refuse a cluster whose PROXY protocol metadata is invalid (at start-up and on reload).</summary>
internal sealed class ProxyProtocolClusterValidator : IClusterValidator
{
    public ValueTask ValidateAsync(ClusterConfig cluster, IList<Exception> errors)
    {
        var problems = new List<string>();
        ClusterProxyProtocol.Read(cluster, problems);
        Health.TcpHealthCheckOptions.Read(cluster, problems);
        foreach (string problem in problems)
        {
            errors.Add(new ArgumentException(problem));
        }

        return ValueTask.CompletedTask;
    }
}
