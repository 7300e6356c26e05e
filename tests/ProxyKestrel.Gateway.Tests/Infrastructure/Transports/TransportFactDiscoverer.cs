using Xunit.Abstractions;
using Xunit.Sdk;

namespace ProxyKestrel.Gateway.Tests.Infrastructure.Transports;

/// <summary><c>[Fact]</c> (and <c>[LinuxFact]</c>) in a per-transport collection: one <see cref="TransportTestCase"/>.</summary>
internal sealed class TransportFactDiscoverer(IMessageSink diagnosticMessageSink) : FactDiscoverer(diagnosticMessageSink)
{
    protected override IXunitTestCase CreateTestCase(ITestFrameworkDiscoveryOptions discoveryOptions, ITestMethod testMethod, IAttributeInfo factAttribute) =>
        new TransportTestCase(DiagnosticMessageSink, discoveryOptions, testMethod);
}
