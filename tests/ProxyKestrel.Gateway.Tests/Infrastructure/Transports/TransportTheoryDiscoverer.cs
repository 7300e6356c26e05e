using Xunit.Abstractions;
using Xunit.Sdk;

namespace ProxyKestrel.Gateway.Tests.Infrastructure.Transports;

/// <summary>
/// <c>[Theory]</c> (and <c>[LinuxTheory]</c>) in a per-transport collection: xunit's theory discovery, each test case
/// made a per-transport one.
/// </summary>
internal sealed class TransportTheoryDiscoverer(IMessageSink diagnosticMessageSink) : TheoryDiscoverer(diagnosticMessageSink)
{
    protected override IEnumerable<IXunitTestCase> CreateTestCasesForDataRow(
        ITestFrameworkDiscoveryOptions discoveryOptions, ITestMethod testMethod, IAttributeInfo theoryAttribute, object[] dataRow) =>
        [new TransportTestCase(DiagnosticMessageSink, discoveryOptions, testMethod, dataRow)];

    protected override IEnumerable<IXunitTestCase> CreateTestCasesForSkip(
        ITestFrameworkDiscoveryOptions discoveryOptions, ITestMethod testMethod, IAttributeInfo theoryAttribute, string skipReason) =>
        [new TransportTestCase(DiagnosticMessageSink, discoveryOptions, testMethod)];

    protected override IEnumerable<IXunitTestCase> CreateTestCasesForSkippedDataRow(
        ITestFrameworkDiscoveryOptions discoveryOptions, ITestMethod testMethod, IAttributeInfo theoryAttribute, object[] dataRow, string skipReason) =>
        [new TransportSkippedDataRowTestCase(DiagnosticMessageSink, discoveryOptions, testMethod, skipReason, dataRow)];

    protected override IEnumerable<IXunitTestCase> CreateTestCasesForTheory(
        ITestFrameworkDiscoveryOptions discoveryOptions, ITestMethod testMethod, IAttributeInfo theoryAttribute) =>
        [new TransportTheoryTestCase(DiagnosticMessageSink, discoveryOptions, testMethod)];
}
