using Microsoft.AspNetCore.Server.Kestrel.Core;

namespace ProxyKestrel.AspNetCore;

/// <summary>
/// Kestrel-specific settings of the PROXY protocol middleware, bound from the same <c>ProxyProtocol</c>
/// configuration section as <see cref="ProxyProtocolOptions"/> (which stays free of ASP.NET concepts because the
/// gateway uses it too). In code: <c>builder.Services.Configure&lt;ProxyProtocolKestrelOptions&gt;(o =&gt; ...)</c>.
/// </summary>
public sealed class ProxyProtocolKestrelOptions
{
    /// <summary>
    /// Lets an endpoint with <see cref="HttpProtocols.Http3"/> in its <see cref="ListenOptions.Protocols"/> start while
    /// it reads PROXY headers. HTTP/3 runs over QUIC, and QUIC connections never pass through connection middleware:
    /// they are served with the sender's own address, without a header, and without the <c>TrustedNetworks</c> check
    /// (<c>UntrustedPeers=Reject</c> does not apply to them). Default <c>false</c>: such an endpoint stops start-up,
    /// naming the endpoint. <c>true</c>: it starts and a warning (event 8, <c>Http3Unchecked</c>) is logged once per
    /// endpoint. Configuration key <c>ProxyProtocol:AllowUncheckedHttp3</c> (<c>true</c> or <c>false</c>).
    /// </summary>
    public bool AllowUncheckedHttp3 { get; set; }
}
