using System.Net;
using Microsoft.AspNetCore.Server.Kestrel.Core;

namespace ProxyKestrel.AspNetCore.Tests;

/// <summary>
/// The Kestrel internals app-wide mode reads (ProxyProtocolKestrelInternals, the only reflection in the package):
/// these tests fail as soon as an ASP.NET Core update removes, renames or retypes one of them.
/// </summary>
public sealed class ProxyProtocolKestrelInternalsTests
{
    [Fact]
    public void MissingMembers_ThisAspNetCore_NoneMissing()
    {
        IReadOnlyList<string> missing = ProxyProtocolKestrelInternals.MissingMembers();

        Assert.True(missing.Count == 0, ProxyProtocolKestrelInternals.DescribeMissing(missing));
    }

    [Fact]
    public void GetEndpointDefaults_AfterConfigureEndpointDefaults_ReturnsThatDelegate()
    {
        var options = new KestrelServerOptions();
        Action<ListenOptions> defaults = _ => { };
        options.ConfigureEndpointDefaults(defaults);

        Assert.Same(defaults, ProxyProtocolKestrelInternals.GetEndpointDefaults(options));
    }

    [Fact]
    public void GetCodeBackedEndpoints_AfterListen_ReturnsThemInOrder()
    {
        var options = new KestrelServerOptions();
        var created = new List<ListenOptions>();
        options.Listen(IPAddress.Loopback, 5001, created.Add);
        options.ListenAnyIP(5002, created.Add);

        Assert.Equal(created, ProxyProtocolKestrelInternals.GetCodeBackedEndpoints(options));
    }
}
