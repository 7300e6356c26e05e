using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using ProxyKestrel.Gateway.Configuration;
using ProxyKestrel.Gateway.Tests.Infrastructure;
using ProxyKestrel.Gateway.Tests.Infrastructure.Transports;

namespace ProxyKestrel.Gateway.Tests.Configuration;

/// <summary><c>TcpProxy:Transport</c>: reading, defaults, validation, and how the test gateway applies it.</summary>
public class TransportConfigTests
{
    private const string Reason = "sets the transport itself, or reads and validates a value: the ambient transport does not matter";

    private const string NoRoutes = """{ "ReverseProxy": { "Clusters": { } }, "TcpProxy": { "Routes": { } } }""";

    public static TheoryData<string, string, TcpProxyTransport> Spellings => new()
    {
        { "Transport", "Auto", TcpProxyTransport.Auto },
        { "Transport", "auto", TcpProxyTransport.Auto },
        { "Transport", "Sockets", TcpProxyTransport.Sockets },
        { "Transport", "SOCKETS", TcpProxyTransport.Sockets },
        { "Transport", "Epoll", TcpProxyTransport.Epoll },
        { "Transport", "epoll", TcpProxyTransport.Epoll },
        { "transport", "EPOLL", TcpProxyTransport.Epoll },
    };

    [NotPerTransport(Reason)]
    [Theory]
    [MemberData(nameof(Spellings))]
    public void Read_TransportInAnyCase_ParsesIt(string key, string value, TcpProxyTransport expected)
    {
        var errors = new List<string>();

        TcpProxyConfig config = TcpProxyConfigReader.Read(Section(new() { [$"TcpProxy:{key}"] = value }), errors);

        Assert.Empty(errors);
        Assert.Equal(expected, config.Transport);
    }

    [NotPerTransport(Reason)]
    [Theory]
    [InlineData("Epol")]
    [InlineData("3")]
    [InlineData("1")] // a number, even that of a defined member (Sockets), is not a transport name
    [InlineData("Epoll,Sockets")] // Enum.TryParse reads commas as flags: 2|1 = 3
    [InlineData("Auto,Sockets")] // ... and 0|1 = 1, a defined member
    public void Read_BadTransport_ReportsOneErrorNamingKeyValueAndAllowedValues(string value)
    {
        var errors = new List<string>();

        TcpProxyConfigReader.Read(Section(new() { ["TcpProxy:Transport"] = value }), errors);

        string error = Assert.Single(errors);
        Assert.StartsWith("TcpProxy:Transport:", error, StringComparison.Ordinal);
        Assert.Contains($"'{value}'", error, StringComparison.Ordinal);
        foreach (string allowed in Enum.GetNames<TcpProxyTransport>())
        {
            Assert.Contains(allowed, error, StringComparison.Ordinal);
        }
    }

    [NotPerTransport(Reason)]
    [Fact]
    public void Read_NoTransport_DefaultsToAuto()
    {
        var errors = new List<string>();

        TcpProxyConfig config = TcpProxyConfigReader.Read(Section(new() { ["TcpProxy:DrainTimeout"] = "00:00:05" }), errors);

        Assert.Empty(errors);
        Assert.Equal(TcpProxyTransport.Auto, config.Transport);
        Assert.Equal(TcpProxyTransport.Auto, new TcpProxyConfig().Transport);
    }

    [NotPerTransport(Reason)]
    [Fact]
    public void Validate_Epoll_AcceptedOnLinuxRefusedElsewhere()
    {
        var errors = new List<string>();

        TcpProxyConfigValidator.Validate(new TcpProxyConfig { Transport = TcpProxyTransport.Epoll }, clusterExists: null, errors);

        if (OperatingSystem.IsLinux())
        {
            Assert.Empty(errors);
        }
        else
        {
            string error = Assert.Single(errors);
            Assert.StartsWith("TcpProxy:Transport:", error, StringComparison.Ordinal);
        }
    }

    [NotPerTransport(Reason)]
    [Theory]
    [InlineData(TcpProxyTransport.Auto)]
    [InlineData(TcpProxyTransport.Sockets)]
    public void Validate_PortableTransport_Accepted(TcpProxyTransport transport)
    {
        var errors = new List<string>();

        TcpProxyConfigValidator.Validate(new TcpProxyConfig { Transport = transport }, clusterExists: null, errors);

        Assert.Empty(errors);
    }

    [NotPerTransport(Reason)]
    [Fact]
    public async Task Start_BadTransportInJson_FailsNamingTheKey()
    {
        const string json = """{ "ReverseProxy": { "Clusters": { } }, "TcpProxy": { "Transport": "Epol", "Routes": { } } }""";

        Exception e = await Assert.ThrowsAnyAsync<Exception>(() => GatewayHost.StartAsync(json));

        Assert.Contains("TcpProxy:Transport: 'Epol' is not a transport", Net.AllMessages(e), StringComparison.Ordinal);
    }

    [NotPerTransport(Reason)]
    [Fact]
    public async Task GatewayHostStart_TransportPinned_OverridesJsonAndEnvironment()
    {
        const string json = """{ "ReverseProxy": { "Clusters": { } }, "TcpProxy": { "Transport": "Epoll", "Routes": { } } }""";

        await using GatewayHost gateway = await GatewayHost.StartAsync(json, transport: TcpProxyTransport.Sockets);

        Assert.Equal("Sockets", gateway.Services.GetRequiredService<IConfiguration>()["TcpProxy:Transport"]);
    }

    [NotPerTransport(Reason)]
    [Fact]
    public async Task GatewayHostStart_TransportInJson_WinsOverEnvironment()
    {
        const string json = """{ "ReverseProxy": { "Clusters": { } }, "TcpProxy": { "Transport": "Sockets", "Routes": { } } }""";

        await using GatewayHost gateway = await GatewayHost.StartAsync(json);

        Assert.Equal("Sockets", gateway.Services.GetRequiredService<IConfiguration>()["TcpProxy:Transport"]);
    }

    [Fact]
    public async Task GatewayHostStart_NoTransportInJson_FollowsTheTestCasesTransport()
    {
        await using GatewayHost gateway = await GatewayHost.StartAsync(NoRoutes);

        string? effective = gateway.Services.GetRequiredService<IConfiguration>()["TcpProxy:Transport"];
        Assert.Equal(Assert.NotNull(AmbientTransport.Current).ToString(), effective);
    }

    private static IConfigurationSection Section(Dictionary<string, string?> values) =>
        new ConfigurationBuilder().AddInMemoryCollection(values).Build().GetSection(TcpProxyConfig.SectionName);
}
