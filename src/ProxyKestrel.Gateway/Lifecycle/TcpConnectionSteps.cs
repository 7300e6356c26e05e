using System.Runtime.CompilerServices;
using ProxyKestrel.Gateway.Configuration;
using Yarp.ReverseProxy.Configuration;
using Yarp.ReverseProxy.Model;

namespace ProxyKestrel.Gateway.Lifecycle;

/// <summary>
/// The small decisions of <see cref="TcpConnectionLifecycle"/>: the cluster's PROXY settings, whether to wait for the
/// client's SNI, and why an upstream header is rejected.
/// </summary>
internal static class TcpConnectionSteps
{
    /// <summary>The reason logged when a peer outside <c>TrustedNetworks</c> sends to a route that rejects them.</summary>
    public const string UntrustedPeer = "the peer is not in AcceptProxyProtocol:TrustedNetworks";

    /// <summary>The PROXY protocol of each (immutable) cluster config, read from its metadata once, not per connection.</summary>
    private static readonly ConditionalWeakTable<ClusterConfig, ClusterProxyProtocol> s_protocols = new();

    /// <summary>The PROXY protocol the cluster's destinations expect (read from its metadata once per cluster config).</summary>
    public static ClusterProxyProtocol ProtocolOf(ClusterState cluster) =>
        s_protocols.GetValue(cluster.Model.Config, static config => ClusterProxyProtocol.Read(config, []));

    /// <summary>
    /// True when the header to the backend carries an authority TLV that no upstream header supplied: it then comes
    /// from the SNI of the client's TLS ClientHello, which the connection waits for (up to ConnectTimeout).
    /// </summary>
    public static bool WaitsForServerName(ClusterProxyProtocol protocol, bool hasUpstream, in ProxyHeader upstream) =>
        protocol.Version == ProxyProtocolVersion.V2
        && (protocol.Tlvs & ProxyProtocolTlvSelection.Authority) != 0
        && !(hasUpstream && upstream.TryGetAuthority(out _));

    /// <summary>The reason logged when no complete upstream header arrived within <paramref name="timeout"/>.</summary>
    public static string HeaderTimeout(TimeSpan timeout) => $"no complete header within {timeout:c}";

    /// <summary>The reason logged for a rejected upstream header (<see cref="ProxyParseError.None"/>: the peer closed first).</summary>
    public static string Rejection(ProxyParseError error) => error == ProxyParseError.None ? "closed before a complete header" : error.Describe();
}
