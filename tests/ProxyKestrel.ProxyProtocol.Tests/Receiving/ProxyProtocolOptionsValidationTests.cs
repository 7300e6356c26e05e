using System.Net;

namespace ProxyKestrel.ProxyProtocol.Tests.Receiving;

public class ProxyProtocolOptionsValidationTests
{
    private static List<string> Validate(ProxyProtocolOptions options, string prefix = "X")
    {
        var errors = new List<string>();
        ProxyProtocolOptionsValidation.Validate(options, prefix, errors);
        return errors;
    }

    private static void AssertOneError(ProxyProtocolOptions options, string expectedName)
    {
        string message = Assert.Single(Validate(options));
        Assert.StartsWith(expectedName + ":", message, StringComparison.Ordinal);
        Assert.Contains("allowed", message, StringComparison.Ordinal);
    }

    [Fact]
    public void Validate_Defaults_NoErrors() => Assert.Empty(Validate(new ProxyProtocolOptions()));

    [Fact]
    public void Validate_BoundaryValues_NoErrors() =>
        Assert.Empty(Validate(new ProxyProtocolOptions
        {
            TrustedNetworks = ["10.0.0.0/8", "0.0.0.0/0", "::/0", "fd00::/8", "10.1.2.3", "::1", " 192.168.0.0/16 ", "10.1.2.3/32"],
            UntrustedPeers = UntrustedPeerBehavior.Passthrough,
            Mode = ProxyProtocolMode.Optional,
            HeaderTimeout = ProxyProtocolOptions.MinHeaderTimeout,
            MaxHeaderSize = ProxyHeaderParserOptions.MinMaxHeaderSize,
            AllowedVersions = ProxyProtocolVersions.V2,
        }));

    [Fact]
    public void Validate_UpperBoundaries_NoErrors() =>
        Assert.Empty(Validate(new ProxyProtocolOptions
        {
            HeaderTimeout = ProxyProtocolOptions.MaxHeaderTimeout,
            MaxHeaderSize = ProxyHeaderParserOptions.MaxMaxHeaderSize,
            AllowedVersions = ProxyProtocolVersions.V1,
        }));

    [Theory]
    [InlineData("10.0.0.1/8")]
    [InlineData("nonsense")]
    [InlineData("fe80::1%eth0")]
    [InlineData("fe80::%eth0/64")]
    [InlineData("10.0.0.0/33")]
    [InlineData("::/129")]
    [InlineData("fd00::1/8")]
    [InlineData("10.0.0.0/")]
    [InlineData("10.0.0.0/-1")]
    [InlineData("10.0.0.0/+8")]
    [InlineData("/8")]
    [InlineData("")]
    [InlineData(" ")]
    public void Validate_BadNetwork_OneErrorNamingIndex(string bad)
    {
        var options = new ProxyProtocolOptions { TrustedNetworks = ["127.0.0.0/8", bad] };
        AssertOneError(options, "X:TrustedNetworks:1");
    }

    [Fact]
    public void Validate_NullNetworkEntry_OneErrorNamingIndex() =>
        AssertOneError(new ProxyProtocolOptions { TrustedNetworks = [null!] }, "X:TrustedNetworks:0");

    [Fact]
    public void Validate_NullNetworkList_OneErrorNamingKey() =>
        AssertOneError(new ProxyProtocolOptions { TrustedNetworks = null! }, "X:TrustedNetworks");

    [Fact]
    public void Validate_EmptyNetworkList_NoErrors() =>
        Assert.Empty(Validate(new ProxyProtocolOptions { TrustedNetworks = [] }));

    [Theory]
    [InlineData(2)]
    [InlineData(0)]
    [InlineData(-5)]
    [InlineData(360)]
    [InlineData(301)]
    public void Validate_HeaderTimeoutOutOfRange_OneError(int seconds) =>
        AssertOneError(new ProxyProtocolOptions { HeaderTimeout = TimeSpan.FromSeconds(seconds) }, "X:HeaderTimeout");

    [Fact]
    public void Validate_HeaderTimeoutSixMinutes_OneError() =>
        AssertOneError(new ProxyProtocolOptions { HeaderTimeout = TimeSpan.FromMinutes(6) }, "X:HeaderTimeout");

    [Theory]
    [InlineData(51)]
    [InlineData(65552)]
    [InlineData(0)]
    [InlineData(-1)]
    [InlineData(int.MaxValue)]
    public void Validate_MaxHeaderSizeOutOfRange_OneError(int size) =>
        AssertOneError(new ProxyProtocolOptions { MaxHeaderSize = size }, "X:MaxHeaderSize");

    [Fact]
    public void Validate_MaxHeaderSizeLimits_Are52And65551()
    {
        Assert.Equal(52, ProxyHeaderParserOptions.MinMaxHeaderSize);
        Assert.Equal(65551, ProxyHeaderParserOptions.MaxMaxHeaderSize);
    }

    [Theory]
    [InlineData(ProxyProtocolVersions.None)]
    [InlineData((ProxyProtocolVersions)4)]
    [InlineData((ProxyProtocolVersions)7)]
    public void Validate_AllowedVersionsInvalid_OneError(ProxyProtocolVersions versions) =>
        AssertOneError(new ProxyProtocolOptions { AllowedVersions = versions }, "X:AllowedVersions");

    [Fact]
    public void Validate_UntrustedPeersUndefined_OneError() =>
        AssertOneError(new ProxyProtocolOptions { UntrustedPeers = (UntrustedPeerBehavior)7 }, "X:UntrustedPeers");

    [Fact]
    public void Validate_ModeUndefined_OneError() =>
        AssertOneError(new ProxyProtocolOptions { Mode = (ProxyProtocolMode)(-1) }, "X:Mode");

    [Fact]
    public void Validate_SeveralBadValues_AllReported()
    {
        var options = new ProxyProtocolOptions
        {
            TrustedNetworks = ["10.0.0.1/8", "10.0.0.0/8", "nonsense"],
            UntrustedPeers = (UntrustedPeerBehavior)9,
            Mode = (ProxyProtocolMode)9,
            HeaderTimeout = TimeSpan.FromSeconds(1),
            MaxHeaderSize = 1,
            AllowedVersions = ProxyProtocolVersions.None,
        };
        var errors = new List<string> { "earlier" };
        ProxyProtocolOptionsValidation.Validate(options, "Gateway:Listeners:2:AcceptProxyProtocol", errors);
        string[] expected =
        [
            "TrustedNetworks:0", "TrustedNetworks:2", "UntrustedPeers", "Mode", "HeaderTimeout", "MaxHeaderSize", "AllowedVersions",
        ];
        Assert.Equal(expected.Length + 1, errors.Count);
        Assert.Equal("earlier", errors[0]);
        for (int i = 0; i < expected.Length; i++)
        {
            Assert.StartsWith("Gateway:Listeners:2:AcceptProxyProtocol:" + expected[i] + ":", errors[i + 1], StringComparison.Ordinal);
            Assert.Contains("allowed", errors[i + 1], StringComparison.Ordinal);
        }
    }

    [Fact]
    public void Validate_NullArguments_Throw()
    {
        Assert.Throws<ArgumentNullException>(() => ProxyProtocolOptionsValidation.Validate(null!, "X", []));
        Assert.Throws<ArgumentNullException>(() => ProxyProtocolOptionsValidation.Validate(new ProxyProtocolOptions(), "X", null!));
    }

    [Theory]
    [InlineData("10.1.2.3", "10.1.2.3", 32)]
    [InlineData("::1", "::1", 128)]
    [InlineData(" 192.168.1.1 ", "192.168.1.1", 32)]
    [InlineData("10.0.0.0/8", "10.0.0.0", 8)]
    [InlineData("0.0.0.0/0", "0.0.0.0", 0)]
    [InlineData("fd00::/8", "fd00::", 8)]
    [InlineData("2001:db8::/32", "2001:db8::", 32)]
    [InlineData("10.1.2.3/32", "10.1.2.3", 32)]
    public void TryParseNetwork_Valid_ParsesBaseAndPrefix(string text, string expectedBase, int expectedPrefix)
    {
        Assert.True(ProxyProtocolOptionsValidation.TryParseNetwork(text, out IPNetwork network));
        Assert.Equal(IPAddress.Parse(expectedBase), network.BaseAddress);
        Assert.Equal(expectedPrefix, network.PrefixLength);
    }

    [Theory]
    [InlineData(null)]
    [InlineData("")]
    [InlineData("10.0.0.1/8")]
    [InlineData("10.0.0.0/33")]
    [InlineData("nonsense")]
    [InlineData("fe80::1%eth0")]
    [InlineData("fe80::1%2")]
    [InlineData("10.0.0.0/8/8")]
    [InlineData("10.0.0.0/ 8")]
    public void TryParseNetwork_Invalid_ReturnsFalse(string? text) =>
        Assert.False(ProxyProtocolOptionsValidation.TryParseNetwork(text, out _));
}
