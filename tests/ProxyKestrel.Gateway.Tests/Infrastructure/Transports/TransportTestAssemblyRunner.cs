using Xunit.Abstractions;
using Xunit.Sdk;

namespace ProxyKestrel.Gateway.Tests.Infrastructure.Transports;

/// <summary>
/// xunit's assembly runner, which sets <see cref="AmbientTransport.Current"/> to a <see cref="TransportTestCollection"/>'s
/// transport while that collection runs (fixtures, tests, disposal), and leaves it null for any other collection.
/// </summary>
internal sealed class TransportTestAssemblyRunner(
    ITestAssembly testAssembly,
    IEnumerable<IXunitTestCase> testCases,
    IMessageSink diagnosticMessageSink,
    IMessageSink executionMessageSink,
    ITestFrameworkExecutionOptions executionOptions)
    : XunitTestAssemblyRunner(testAssembly, testCases, diagnosticMessageSink, executionMessageSink, executionOptions)
{
    protected override async Task<RunSummary> RunTestCollectionAsync(
        IMessageBus messageBus, ITestCollection testCollection, IEnumerable<IXunitTestCase> testCases, CancellationTokenSource cancellationTokenSource)
    {
        // Set inside this async method: the value flows into the collection's run and is undone for the caller.
        AmbientTransport.Current = (testCollection as TransportTestCollection)?.Transport;
        return await base.RunTestCollectionAsync(messageBus, testCollection, testCases, cancellationTokenSource);
    }
}
