using System.Reflection;
using Xunit.Abstractions;
using Xunit.Sdk;

namespace ProxyKestrel.Gateway.Tests.Infrastructure.Transports;

/// <summary>
/// The gateway tests' xunit framework (Infrastructure/AssemblyInfo.cs selects it): xunit's own, with every test found
/// once per TCP transport (<see cref="TransportTestFrameworkDiscoverer"/>) and run with that transport as the
/// <see cref="AmbientTransport"/> (<see cref="TransportTestAssemblyRunner"/>).
/// </summary>
internal sealed class TransportTestFramework(IMessageSink messageSink) : XunitTestFramework(messageSink)
{
    protected override ITestFrameworkDiscoverer CreateDiscoverer(IAssemblyInfo assemblyInfo) =>
        new TransportTestFrameworkDiscoverer(assemblyInfo, SourceInformationProvider, DiagnosticMessageSink);

    protected override ITestFrameworkExecutor CreateExecutor(AssemblyName assemblyName) =>
        new TransportTestFrameworkExecutor(assemblyName, SourceInformationProvider, DiagnosticMessageSink);
}
