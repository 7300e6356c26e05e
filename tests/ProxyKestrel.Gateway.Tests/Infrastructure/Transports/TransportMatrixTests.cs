using System.Collections.Concurrent;
using Xunit.Abstractions;
using Xunit.Sdk;

namespace ProxyKestrel.Gateway.Tests.Infrastructure.Transports;

/// <summary>The transport matrix itself: what discovery produces, and that a test's gateway runs on its transport.</summary>
public class TransportMatrixTests
{
    [Fact]
    public async Task GatewayHostStart_NoTransportPinned_GatewayRunsOnTheTestCasesTransport()
    {
        Assert.NotNull(AmbientTransport.Current);
        var logs = new ListLoggerProvider();
        await using var backend = new ProxyBackend();
        var clusters = new Dictionary<string, string> { ["c1"] = backend.Address };

        await using GatewayHost gateway = await GatewayHost.StartAsync(
            ReloadConfig.Json(clusters, new Dictionary<string, string> { ["r1"] = ReloadConfig.Route("c1") }), logger: logs);

        // Event 111 (TransportSelected) names the transport the gateway really runs, not the configured value.
        var selected = Assert.Single(logs.Entries, e => e.EventId.Id == 111);
        Assert.StartsWith($"TCP routes use the {AmbientTransport.Current} transport ", selected.Message, StringComparison.Ordinal);
        using var client = await Net.ConnectAsync(gateway.EndPointOf("r1"), "127.0.0.27");
        await Net.AssertEchoAsync(client, $"relayed on {AmbientTransport.Current}");
    }

    [Fact]
    [NotPerTransport("checks discovery itself")]
    public async Task Discover_ThisClass_EachTestOncePerTransportWithItsNameAndTraitMarkedOnesOnce()
    {
        Assert.Null(AmbientTransport.Current);
        IReadOnlyList<Xunit.Sdk.IXunitTestCase> found = await DiscoverAsync(typeof(TransportMatrixTests));
        IReadOnlyList<ProxyKestrel.Gateway.Configuration.TcpProxyTransport> transports = TransportMatrix.Transports(out string? error);
        Assert.Null(error);

        string perTransport = $"{typeof(TransportMatrixTests).FullName}.{nameof(GatewayHostStart_NoTransportPinned_GatewayRunsOnTheTestCasesTransport)}";
        Assert.Equal(
            transports.Select(t => $"{perTransport} [{t}]").Order(StringComparer.Ordinal),
            found.Where(c => c.TestMethod.Method.Name == nameof(GatewayHostStart_NoTransportPinned_GatewayRunsOnTheTestCasesTransport))
                .Select(c => c.DisplayName).Order(StringComparer.Ordinal));
        foreach (IXunitTestCase testCase in found.Where(c => c.TestMethod.Method.Name == nameof(GatewayHostStart_NoTransportPinned_GatewayRunsOnTheTestCasesTransport)))
        {
            var collection = Assert.IsType<TransportTestCollection>(testCase.TestMethod.TestClass.TestCollection);
            Assert.Equal(collection.Transport.ToString(), Assert.Single(testCase.Traits[TransportMatrix.TraitName]));
            Assert.EndsWith($" [{collection.Transport}]", collection.DisplayName, StringComparison.Ordinal);
        }

        foreach (string once in new[] { nameof(Discover_ThisClass_EachTestOncePerTransportWithItsNameAndTraitMarkedOnesOnce), nameof(SerializeThenDeserialize_DiscoveredTestCases_KeepNameTraitsIdAndTransport) })
        {
            IXunitTestCase testCase = Assert.Single(found, c => c.TestMethod.Method.Name == once);
            Assert.Equal($"{typeof(TransportMatrixTests).FullName}.{once}", testCase.DisplayName);
            Assert.False(testCase.Traits.ContainsKey(TransportMatrix.TraitName));
            Assert.IsNotType<TransportTestCollection>(testCase.TestMethod.TestClass.TestCollection);
        }

        Assert.Equal(transports.Count + 2, found.Count);
        Assert.Equal(found.Count, found.Select(c => c.UniqueID).Distinct().Count());
    }

    [Fact]
    [NotPerTransport("checks discovery itself")]
    public async Task SerializeThenDeserialize_DiscoveredTestCases_KeepNameTraitsIdAndTransport()
    {
        IReadOnlyList<IXunitTestCase> found = await DiscoverAsync(typeof(ReloadInvalidChangeTests));
        using var discoverer = CreateDiscoverer();
        using var executor = new TransportTestFrameworkExecutor(typeof(TransportMatrixTests).Assembly.GetName(), new NoSourceInformation(), new NullMessageSink());

        // A theory with its rows per transport, and a fact marked [NotPerTransport]: counted from the class itself.
        int transports = TransportMatrix.Transports(out _).Count;
        int expected = typeof(ReloadInvalidChangeTests).GetMethods()
            .Where(m => m.IsDefined(typeof(FactAttribute), inherit: true))
            .Sum(m => (m.IsDefined(typeof(NotPerTransportAttribute), inherit: false) ? 1 : transports)
                * (m.IsDefined(typeof(TheoryAttribute), inherit: false) ? m.GetCustomAttributes(typeof(InlineDataAttribute), false).Length : 1));
        Assert.True(expected > transports, "the class has a theory and a fact marked [NotPerTransport]");
        Assert.Equal(expected, found.Count);
        foreach (IXunitTestCase testCase in found)
        {
            var copy = Assert.IsAssignableFrom<IXunitTestCase>(executor.Deserialize(discoverer.Serialize(testCase)));

            Assert.Equal(testCase.GetType(), copy.GetType());
            Assert.Equal(testCase.DisplayName, copy.DisplayName);
            Assert.Equal(testCase.UniqueID, copy.UniqueID);
            Assert.Equal(testCase.Traits.SelectMany(t => t.Value.Select(v => $"{t.Key}={v}")), copy.Traits.SelectMany(t => t.Value.Select(v => $"{t.Key}={v}")));
            Assert.Equal(testCase.TestMethod.TestClass.TestCollection.UniqueID, copy.TestMethod.TestClass.TestCollection.UniqueID);
            Assert.Equal(
                (testCase.TestMethod.TestClass.TestCollection as TransportTestCollection)?.Transport,
                (copy.TestMethod.TestClass.TestCollection as TransportTestCollection)?.Transport);
        }
    }

    private static TransportTestFrameworkDiscoverer CreateDiscoverer() =>
        new(Reflector.Wrap(typeof(TransportMatrixTests).Assembly), new NoSourceInformation(), new NullMessageSink());

    private static async Task<IReadOnlyList<IXunitTestCase>> DiscoverAsync(Type type)
    {
        using TransportTestFrameworkDiscoverer discoverer = CreateDiscoverer();
        var sink = new DiscoverySink();
        discoverer.Find(type.FullName, includeSourceInformation: false, sink, new DiscoveryOptions());
        await sink.Completed.Task.WaitAsync(TimeSpan.FromSeconds(30));
        return [.. sink.TestCases];
    }

    private sealed class DiscoverySink : LongLivedMarshalByRefObject, IMessageSink
    {
        public ConcurrentQueue<IXunitTestCase> TestCases { get; } = new();

        public TaskCompletionSource Completed { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

        public bool OnMessage(IMessageSinkMessage message)
        {
            if (message is ITestCaseDiscoveryMessage discovered)
            {
                TestCases.Enqueue((IXunitTestCase)discovered.TestCase);
            }
            else if (message is IDiscoveryCompleteMessage)
            {
                Completed.TrySetResult();
            }

            return true;
        }
    }

    /// <summary>Discovery with xunit's defaults (every option unset).</summary>
    private sealed class DiscoveryOptions : ITestFrameworkDiscoveryOptions
    {
        public TValue GetValue<TValue>(string name) => default!;

        public void SetValue<TValue>(string name, TValue value)
        {
        }
    }

    private sealed class NoSourceInformation : LongLivedMarshalByRefObject, ISourceInformationProvider
    {
        public ISourceInformation GetSourceInformation(ITestCase testCase) => null!;

        public void Dispose()
        {
        }
    }
}
