using System.Net;

namespace ProxyKestrel.Gateway.Tests.RealPeers;

/// <summary>The test zone <c>pk.test.</c> that the DNS peers (unbound, PowerDNS Recursor) serve locally.</summary>
internal static class PkTestZone
{
    /// <summary>The one name the zone answers with an address.</summary>
    public const string HelloName = "hello.pk.test.";

    /// <summary>The address of <see cref="HelloName"/> (TEST-NET-1).</summary>
    public static readonly IPAddress HelloAddress = IPAddress.Parse("192.0.2.77");
}
