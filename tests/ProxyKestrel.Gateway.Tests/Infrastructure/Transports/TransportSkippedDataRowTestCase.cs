using System.ComponentModel;
using Xunit.Abstractions;
using Xunit.Sdk;

namespace ProxyKestrel.Gateway.Tests.Infrastructure.Transports;

/// <summary>A theory data row marked <c>Skip</c>, on the transport of its <see cref="TransportTestCollection"/>; see <see cref="TransportTestCase"/>.</summary>
internal sealed class TransportSkippedDataRowTestCase : XunitSkippedDataRowTestCase
{
    [EditorBrowsable(EditorBrowsableState.Never)]
    [Obsolete("Called by the de-serializer", error: true)]
    public TransportSkippedDataRowTestCase()
    {
    }

    public TransportSkippedDataRowTestCase(
        IMessageSink diagnosticMessageSink, ITestFrameworkDiscoveryOptions options, ITestMethod testMethod, string skipReason, object[] arguments)
        : base(diagnosticMessageSink, options.MethodDisplayOrDefault(), options.MethodDisplayOptionsOrDefault(), testMethod, skipReason, arguments)
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
