using ProxyKestrel.Gateway.Configuration;
using Xunit.Abstractions;
using Xunit.Sdk;

namespace ProxyKestrel.Gateway.Tests.Infrastructure.Transports;

/// <summary>
/// xunit's discovery, with each test method found once per transport of <see cref="TransportMatrix"/>: in a
/// <see cref="TransportTestCollection"/> of the collection it would be in, as a <see cref="TransportTestCase"/>
/// (or <see cref="TransportTheoryTestCase"/>, <see cref="TransportSkippedDataRowTestCase"/>). Methods marked
/// <see cref="NotPerTransportAttribute"/> (on the method or its class) and classes in a
/// <see cref="NotPerTransportNamespaceAttribute"/> namespace are found once, as xunit finds them.
/// </summary>
internal sealed class TransportTestFrameworkDiscoverer : XunitTestFrameworkDiscoverer
{
    private const string FactDiscovererName = "Xunit.Sdk.FactDiscoverer";
    private const string TheoryDiscovererName = "Xunit.Sdk.TheoryDiscoverer";

    private readonly IReadOnlyList<TcpProxyTransport> _transports;
    private readonly string? _transportsError;
    private readonly string[] _onceNamespaces;
    private readonly Dictionary<(Guid Original, TcpProxyTransport Transport), TransportTestCollection> _collections = [];
    private readonly TransportFactDiscoverer _facts;
    private readonly TransportTheoryDiscoverer _theories;

    public TransportTestFrameworkDiscoverer(IAssemblyInfo assemblyInfo, ISourceInformationProvider sourceProvider, IMessageSink diagnosticMessageSink)
        : base(assemblyInfo, sourceProvider, diagnosticMessageSink)
    {
        _transports = TransportMatrix.Transports(out _transportsError);
        _onceNamespaces =
        [
            .. assemblyInfo.GetCustomAttributes(typeof(NotPerTransportNamespaceAttribute))
                .Select(a => (string)a.GetConstructorArguments().First()),
        ];
        _facts = new TransportFactDiscoverer(diagnosticMessageSink);
        _theories = new TransportTheoryDiscoverer(diagnosticMessageSink);
    }

    protected override bool FindTestsForType(ITestClass testClass, bool includeSourceInformation, IMessageBus messageBus, ITestFrameworkDiscoveryOptions discoveryOptions)
    {
        bool classOnce = IsMarkedOnce(testClass.Class);
        ITestClass[]? perTransport = null;
        foreach (IMethodInfo method in testClass.Class.GetMethods(true))
        {
            if (classOnce || method.GetCustomAttributes(typeof(NotPerTransportAttribute)).Any())
            {
                if (!FindTestsForMethod(new TestMethod(testClass, method), includeSourceInformation, messageBus, discoveryOptions))
                {
                    return false;
                }

                continue;
            }

            if (_transportsError is not null && method.GetCustomAttributes(typeof(FactAttribute)).Any())
            {
                var error = new ExecutionErrorTestCase(
                    DiagnosticMessageSink, TestMethodDisplay.ClassAndMethod, TestMethodDisplayOptions.None, new TestMethod(testClass, method), _transportsError);
                if (!ReportDiscoveredTestCase(error, includeSourceInformation, messageBus))
                {
                    return false;
                }

                continue;
            }

            perTransport ??= [.. _transports.Select(t => (ITestClass)new TestClass(CollectionFor(testClass.TestCollection, t), testClass.Class))];
            foreach (ITestClass transportClass in perTransport)
            {
                if (!FindTestsForMethod(new TestMethod(transportClass, method), includeSourceInformation, messageBus, discoveryOptions))
                {
                    return false;
                }
            }
        }

        return true;
    }

    protected override bool FindTestsForMethod(ITestMethod testMethod, bool includeSourceInformation, IMessageBus messageBus, ITestFrameworkDiscoveryOptions discoveryOptions)
    {
        if (testMethod.TestClass.TestCollection is not TransportTestCollection)
        {
            return base.FindTestsForMethod(testMethod, includeSourceInformation, messageBus, discoveryOptions);
        }

        IAttributeInfo[] facts = [.. testMethod.Method.GetCustomAttributes(typeof(FactAttribute))];
        if (facts.Length != 1)
        {
            // None: not a test; several: xunit's own error test case.
            return base.FindTestsForMethod(testMethod, includeSourceInformation, messageBus, discoveryOptions);
        }

        IXunitTestCaseDiscoverer? discoverer = DiscovererName(facts[0]) switch
        {
            FactDiscovererName => _facts,
            TheoryDiscovererName => _theories,
            _ => null,
        };
        if (discoverer is null)
        {
            var error = new ExecutionErrorTestCase(
                DiagnosticMessageSink, TestMethodDisplay.ClassAndMethod, TestMethodDisplayOptions.None, testMethod,
                $"{testMethod.TestClass.Class.Name}.{testMethod.Method.Name}: its test attribute has its own discoverer ({DiscovererName(facts[0])}), "
                + "which the transport matrix does not know; mark the test [NotPerTransport] or add the discoverer to Infrastructure/Transports.");
            return ReportDiscoveredTestCase(error, includeSourceInformation, messageBus);
        }

        foreach (IXunitTestCase testCase in discoverer.Discover(discoveryOptions, testMethod, facts[0]))
        {
            if (!ReportDiscoveredTestCase(testCase, includeSourceInformation, messageBus))
            {
                return false;
            }
        }

        return true;
    }

    private bool IsMarkedOnce(ITypeInfo @class) =>
        @class.GetCustomAttributes(typeof(NotPerTransportAttribute)).Any()
        || _onceNamespaces.Any(ns => @class.Name.StartsWith(ns + ".", StringComparison.Ordinal));

    /// <summary>The type name of the discoverer xunit would use for the attribute, e.g. <c>Xunit.Sdk.FactDiscoverer</c>.</summary>
    private static string? DiscovererName(IAttributeInfo fact) =>
        fact.GetCustomAttributes(typeof(XunitTestCaseDiscovererAttribute)).FirstOrDefault()?.GetConstructorArguments().FirstOrDefault() as string;

    private TransportTestCollection CollectionFor(ITestCollection original, TcpProxyTransport transport)
    {
        if (!_collections.TryGetValue((original.UniqueID, transport), out TransportTestCollection? collection))
        {
            collection = new TransportTestCollection(original, transport);
            _collections[(original.UniqueID, transport)] = collection;
        }

        return collection;
    }
}
