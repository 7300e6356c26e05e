namespace ProxyKestrel.ProxyProtocol.Tests.Receiving;

public class ProxyProtocolOptionsReaderTests
{
    private const string Path = "Kestrel:ProxyProtocol";

    private static (bool Ok, ProxyProtocolOptions Options, List<string> Errors) Set(string key, string? value)
    {
        var options = new ProxyProtocolOptions();
        var errors = new List<string>();
        bool ok = ProxyProtocolOptionsReader.TrySet(options, key, value, Path + ":" + key, errors);
        return (ok, options, errors);
    }

    private static ProxyProtocolOptions Accepted(string key, string? value)
    {
        var (ok, options, errors) = Set(key, value);
        Assert.True(ok, string.Join(Environment.NewLine, errors));
        Assert.Empty(errors);
        return options;
    }

    private static string Refused(string key, string? value)
    {
        var (ok, _, errors) = Set(key, value);
        Assert.False(ok);
        string message = Assert.Single(errors);
        Assert.Contains(Path + ":" + key, message, StringComparison.Ordinal);
        Assert.Contains("allowed", message, StringComparison.Ordinal);
        return message;
    }

    [Fact]
    public void Keys_AreThePropertyNames_InDeclarationOrder() =>
        Assert.Equal(
            ["TrustedNetworks", "UntrustedPeers", "Mode", "HeaderTimeout", "MaxHeaderSize", "AllowedVersions"],
            ProxyProtocolOptionsReader.Keys);

    [Theory]
    [InlineData("trustednetworks", "TrustedNetworks")]
    [InlineData("UNTRUSTEDPEERS", "UntrustedPeers")]
    [InlineData("mode", "Mode")]
    [InlineData("headerTimeout", "HeaderTimeout")]
    [InlineData("MaxHeaderSize", "MaxHeaderSize")]
    [InlineData("allowedversions", "AllowedVersions")]
    public void Match_AnyCase_ReturnsCanonicalKey(string key, string expected) =>
        Assert.Equal(expected, ProxyProtocolOptionsReader.Match(key));

    [Theory]
    [InlineData("Unknown")]
    [InlineData("")]
    [InlineData("Trusted Networks")]
    public void Match_UnknownKey_ReturnsNull(string key) =>
        Assert.Null(ProxyProtocolOptionsReader.Match(key));

    [Fact]
    public void TrySet_TrustedNetworksCommaList_ReplacesDefault() =>
        Assert.Equal(["10.0.0.0/8", "fd00::/8"], Accepted("TrustedNetworks", "10.0.0.0/8, fd00::/8").TrustedNetworks);

    [Fact]
    public void TrySet_TrustedNetworksSemicolonList_SplitsAndTrims() =>
        Assert.Equal(["10.0.0.0/8", "192.168.0.0/16", "::1"], Accepted("trustednetworks", " 10.0.0.0/8 ;192.168.0.0/16,, ::1 ;").TrustedNetworks);

    [Fact]
    public void TrySet_TrustedNetworksEmpty_SetsEmptyList() =>
        Assert.Empty(Accepted("TrustedNetworks", "").TrustedNetworks);

    [Theory]
    [InlineData("Reject", UntrustedPeerBehavior.Reject)]
    [InlineData("passthrough", UntrustedPeerBehavior.Passthrough)]
    [InlineData("PASSTHROUGH", UntrustedPeerBehavior.Passthrough)]
    [InlineData(" Passthrough ", UntrustedPeerBehavior.Passthrough)]
    public void TrySet_UntrustedPeersByName_SetsValue(string text, UntrustedPeerBehavior expected) =>
        Assert.Equal(expected, Accepted("UNTRUSTEDPEERS", text).UntrustedPeers);

    [Theory]
    [InlineData("Required", ProxyProtocolMode.Required)]
    [InlineData("optional", ProxyProtocolMode.Optional)]
    [InlineData("OPTIONAL", ProxyProtocolMode.Optional)]
    public void TrySet_ModeByName_SetsValue(string text, ProxyProtocolMode expected) =>
        Assert.Equal(expected, Accepted("mode", text).Mode);

    [Theory]
    [InlineData("0")]
    [InlineData("1")]
    [InlineData("-1")]
    [InlineData(" 1 ")]
    [InlineData("Ignore")]
    [InlineData("")]
    [InlineData(null)]
    [InlineData("Reject, Passthrough")]
    public void TrySet_UntrustedPeersNumericOrUnknown_Refused(string? text)
    {
        string message = Refused("UntrustedPeers", text);
        Assert.Contains("Reject, Passthrough", message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("0")]
    [InlineData("1")]
    [InlineData("2")]
    [InlineData("Sometimes")]
    [InlineData("")]
    [InlineData("Required, Optional")]
    public void TrySet_ModeNumericOrUnknown_Refused(string text)
    {
        string message = Refused("Mode", text);
        Assert.Contains("Required, Optional", message, StringComparison.Ordinal);
    }

    [Fact]
    public void TrySet_HeaderTimeoutText_SetsValue() =>
        Assert.Equal(TimeSpan.FromSeconds(5), Accepted("HeaderTimeout", "00:00:05").HeaderTimeout);

    [Fact]
    public void TrySet_HeaderTimeoutMinutes_SetsValue() =>
        Assert.Equal(TimeSpan.FromMinutes(2), Accepted("headertimeout", "00:02:00").HeaderTimeout);

    [Theory]
    [InlineData("five seconds")]
    [InlineData("")]
    [InlineData(null)]
    [InlineData("00:00:xx")]
    public void TrySet_HeaderTimeoutUnparsable_Refused(string? text) => Refused("HeaderTimeout", text);

    [Fact]
    public void TrySet_MaxHeaderSizeNumber_SetsValue() =>
        Assert.Equal(4096, Accepted("MaxHeaderSize", "4096").MaxHeaderSize);

    [Fact]
    public void TrySet_MaxHeaderSizeOutOfRangeNumber_IsLeftToValidation() =>
        Assert.Equal(10, Accepted("maxheadersize", "10").MaxHeaderSize);

    [Theory]
    [InlineData("-1")]
    [InlineData("abc")]
    [InlineData("")]
    [InlineData(null)]
    [InlineData("4096.5")]
    [InlineData("99999999999")]
    public void TrySet_MaxHeaderSizeNotWholeNumber_Refused(string? text)
    {
        string message = Refused("MaxHeaderSize", text);
        Assert.Contains($"{ProxyHeaderParserOptions.MinMaxHeaderSize} to {ProxyHeaderParserOptions.MaxMaxHeaderSize}", message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("V1", ProxyProtocolVersions.V1)]
    [InlineData("v2", ProxyProtocolVersions.V2)]
    [InlineData("All", ProxyProtocolVersions.All)]
    [InlineData("all", ProxyProtocolVersions.All)]
    [InlineData("V1, V2", ProxyProtocolVersions.All)]
    [InlineData("v2,v1", ProxyProtocolVersions.All)]
    [InlineData("V1 | V2", ProxyProtocolVersions.All)]
    public void TrySet_AllowedVersionsByName_SetsValue(string text, ProxyProtocolVersions expected) =>
        Assert.Equal(expected, Accepted("AllowedVersions", text).AllowedVersions);

    [Theory]
    [InlineData("None")]
    [InlineData("none")]
    [InlineData("V1, None")]
    [InlineData("")]
    [InlineData("  ")]
    [InlineData(null)]
    [InlineData("1")]
    [InlineData("3")]
    [InlineData("V1, 2")]
    [InlineData("V3")]
    [InlineData(",")]
    public void TrySet_AllowedVersionsNoneEmptyOrNumeric_Refused(string? text)
    {
        var (_, options, _) = Set("AllowedVersions", text);
        Assert.Equal(ProxyProtocolVersions.All, options.AllowedVersions);
        string message = Refused("AllowedVersions", text);
        Assert.Contains("V1, V2, All", message, StringComparison.Ordinal);
    }

    [Fact]
    public void TrySet_RefusedValue_LeavesOptionUnchanged()
    {
        var (ok, options, _) = Set("Mode", "1");
        Assert.False(ok);
        Assert.Equal(ProxyProtocolMode.Required, options.Mode);
    }

    [Fact]
    public void TrySet_UnknownKey_FailsNamingPathAndListingKeys()
    {
        var options = new ProxyProtocolOptions();
        var errors = new List<string>();
        Assert.False(ProxyProtocolOptionsReader.TrySet(options, "TrustedProxies", "10.0.0.0/8", "Gateway:Listeners:0:AcceptProxyProtocol:TrustedProxies", errors));
        string message = Assert.Single(errors);
        Assert.Contains("Gateway:Listeners:0:AcceptProxyProtocol:TrustedProxies", message, StringComparison.Ordinal);
        Assert.Contains("allowed", message, StringComparison.Ordinal);
        foreach (string key in ProxyProtocolOptionsReader.Keys)
        {
            Assert.Contains(key, message, StringComparison.Ordinal);
        }

        Assert.Equal(["127.0.0.0/8", "::1/128"], options.TrustedNetworks);
    }

    [Fact]
    public void TrySet_SeveralFailures_AppendsOneMessageEach()
    {
        var options = new ProxyProtocolOptions();
        var errors = new List<string> { "earlier" };
        Assert.False(ProxyProtocolOptionsReader.TrySet(options, "Mode", "x", "P:Mode", errors));
        Assert.False(ProxyProtocolOptionsReader.TrySet(options, "Nope", "x", "P:Nope", errors));
        Assert.True(ProxyProtocolOptionsReader.TrySet(options, "MaxHeaderSize", "100", "P:MaxHeaderSize", errors));
        Assert.Equal(3, errors.Count);
        Assert.Equal("earlier", errors[0]);
        Assert.Contains("P:Mode", errors[1], StringComparison.Ordinal);
        Assert.Contains("P:Nope", errors[2], StringComparison.Ordinal);
    }

    [Fact]
    public void TrySet_NullArguments_Throw()
    {
        Assert.Throws<ArgumentNullException>(() => ProxyProtocolOptionsReader.TrySet(null!, "Mode", "Optional", "P", []));
        Assert.Throws<ArgumentNullException>(() => ProxyProtocolOptionsReader.TrySet(new ProxyProtocolOptions(), "Mode", "Optional", "P", null!));
    }
}
