using System.ComponentModel;
using Xunit.Abstractions;
using Xunit.Sdk;

namespace ProxyKestrel.Gateway.Tests.Infrastructure.Transports;

/// <summary>
/// A theory whose data is enumerated when it runs (data that cannot be serialized), on the transport of its
/// <see cref="TransportTestCollection"/>; see <see cref="TransportTestCase"/>.
/// </summary>
internal sealed class TransportTheoryTestCase : XunitTheoryTestCase
{
    [EditorBrowsable(EditorBrowsableState.Never)]
    [Obsolete("Called by the de-serializer", error: true)]
    public TransportTheoryTestCase()
    {
    }

    public TransportTheoryTestCase(IMessageSink diagnosticMessageSink, ITestFrameworkDiscoveryOptions options, ITestMethod testMethod)
        : base(diagnosticMessageSink, options.MethodDisplayOrDefault(), options.MethodDisplayOptionsOrDefault(), testMethod)
    {
    }

    protected override void Initialize()
    {
        base.Initialize();
        var transport = TransportTestCollection.Of(TestMethod);
        DisplayName = TransportMatrix.DisplayName(DisplayName, transport);
        Traits[TransportMatrix.TraitName] = [transport.ToString()];
    }

    /// <summary>xunit's id (assembly, class, method, arguments) and the transport: each transport's case is a test of its own.</summary>
    protected override string GetUniqueID() => $"{base.GetUniqueID()}/{TransportTestCollection.Of(TestMethod)}";
}
