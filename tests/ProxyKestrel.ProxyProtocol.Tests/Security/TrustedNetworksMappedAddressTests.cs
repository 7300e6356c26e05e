using System.Net;

namespace ProxyKestrel.ProxyProtocol.Tests.Security;

/// <summary>
/// docs/security.md, "IPv4-mapped addresses in trusted lists": a dual-mode socket reports IPv4 peers as
/// <c>::ffff:a.b.c.d</c>. Such a peer is judged by its IPv4 address against IPv4 entries only; an entry written as an
/// IPv4-mapped IPv6 network or address would match no peer, so it is refused at start-up; IPv6 entries never cover
/// IPv4 peers.
/// </summary>
public class TrustedNetworksMappedAddressTests
{
    private static ProxyProtocolReceiver Create(params string[] networks)
    {
        var errors = new List<string>();
        Assert.True(
            ProxyProtocolReceiver.TryCreate(new ProxyProtocolOptions { TrustedNetworks = networks }, "ProxyProtocol", errors, out ProxyProtocolReceiver? receiver),
            string.Join(Environment.NewLine, errors));
        return Assert.IsType<ProxyProtocolReceiver>(receiver);
    }

    private static bool Trusted(ProxyProtocolReceiver receiver, string address) =>
        receiver.IsTrusted(new IPEndPoint(IPAddress.Parse(address), 40000));

    [Theory]
    [InlineData("::ffff:127.0.0.1", true)]
    [InlineData("::ffff:127.255.255.254", true)]
    [InlineData("127.0.0.1", true)]
    [InlineData("::ffff:10.0.0.1", false)]
    [InlineData("::ffff:128.0.0.1", false)]
    [InlineData("::1", false)]
    [InlineData("::127.0.0.1", false)] // IPv4-compatible (deprecated), not mapped: a different IPv6 address
    [InlineData("64:ff9b::7f00:1", false)] // NAT64 form of 127.0.0.1: not mapped, not trusted
    public void IsTrusted_IPv4LoopbackNetwork_MappedPeerJudgedByItsIPv4Address(string peer, bool expected)
    {
        ProxyProtocolReceiver receiver = Create("127.0.0.0/8");

        Assert.Equal(expected, Trusted(receiver, peer));
    }

    [Theory]
    [InlineData("::ffff:0:0/96", "0.0.0.0/0")]
    [InlineData("::ffff:127.0.0.0/104", "127.0.0.0/8")]
    [InlineData("::ffff:127.0.0.1", "127.0.0.1/32")]
    public void TryCreate_MappedNetworkEntry_RefusedNamingTheIPv4Network(string entry, string ipv4)
    {
        // Such an entry would match no peer (mapped peers are compared in IPv4 form): refused at start-up instead.
        var errors = new List<string>();

        Assert.False(ProxyProtocolReceiver.TryCreate(new ProxyProtocolOptions { TrustedNetworks = ["10.0.0.0/8", entry] }, "ProxyProtocol", errors, out _));

        string error = Assert.Single(errors);
        Assert.StartsWith("ProxyProtocol:TrustedNetworks:1: ", error, StringComparison.Ordinal);
        Assert.Contains("IPv4-mapped", error, StringComparison.Ordinal);
        Assert.Contains(ipv4, error, StringComparison.Ordinal);
    }

    [Fact]
    public void IsTrusted_AllIPv6Entry_DoesNotCoverIPv4OrMappedPeers()
    {
        ProxyProtocolReceiver receiver = Create("::/0");

        Assert.True(Trusted(receiver, "::1"));
        Assert.True(Trusted(receiver, "2001:db8::7"));
        Assert.False(Trusted(receiver, "::ffff:127.0.0.1"));
        Assert.False(Trusted(receiver, "127.0.0.1"));
    }

    [Fact]
    public void IsTrusted_AllIPv4Entry_CoversMappedPeersButNoNativeIPv6()
    {
        ProxyProtocolReceiver receiver = Create("0.0.0.0/0");

        Assert.True(Trusted(receiver, "::ffff:198.51.100.9"));
        Assert.True(Trusted(receiver, "198.51.100.9"));
        Assert.False(Trusted(receiver, "::1"));
        Assert.False(Trusted(receiver, "2001:db8::7"));
    }

    [Fact]
    public void IsTrusted_SingleIPv4HostEntry_MatchesOnlyThatHostMappedOrNot()
    {
        ProxyProtocolReceiver receiver = Create("10.1.2.3");

        Assert.True(Trusted(receiver, "10.1.2.3"));
        Assert.True(Trusted(receiver, "::ffff:10.1.2.3"));
        Assert.False(Trusted(receiver, "::ffff:10.1.2.4"));
    }
}
