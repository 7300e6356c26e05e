using System.Reflection;
using Xunit.Abstractions;
using Xunit.Sdk;

namespace ProxyKestrel.Gateway.Tests.Infrastructure.Transports;

/// <summary>xunit's executor, running the test cases with <see cref="TransportTestAssemblyRunner"/>.</summary>
internal sealed class TransportTestFrameworkExecutor(AssemblyName assemblyName, ISourceInformationProvider sourceInformationProvider, IMessageSink diagnosticMessageSink)
    : XunitTestFrameworkExecutor(assemblyName, sourceInformationProvider, diagnosticMessageSink)
{
    protected override async void RunTestCases(IEnumerable<IXunitTestCase> testCases, IMessageSink executionMessageSink, ITestFrameworkExecutionOptions executionOptions)
    {
        using var runner = new TransportTestAssemblyRunner(TestAssembly, testCases, DiagnosticMessageSink, executionMessageSink, executionOptions);
        await runner.RunAsync();
    }
}
