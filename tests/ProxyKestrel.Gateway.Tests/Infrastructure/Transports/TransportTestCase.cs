using System.ComponentModel;
using Xunit.Abstractions;
using Xunit.Sdk;

namespace ProxyKestrel.Gateway.Tests.Infrastructure.Transports;

/// <summary>
/// A fact, or one data row of a theory, on the transport of its <see cref="TransportTestCollection"/>: the display
/// name ends with <c>[Transport]</c>, the trait <c>Transport</c> names it, and so does its id. Serialized with its
/// collection.
/// </summary>
internal sealed class TransportTestCase : XunitTestCase
{
    [EditorBrowsable(EditorBrowsableState.Never)]
    [Obsolete("Called by the de-serializer", error: true)]
    public TransportTestCase()
    {
    }

    public TransportTestCase(IMessageSink diagnosticMessageSink, ITestFrameworkDiscoveryOptions options, ITestMethod testMethod, object[]? arguments = null)
        : base(diagnosticMessageSink, options.MethodDisplayOrDefault(), options.MethodDisplayOptionsOrDefault(), testMethod, arguments)
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
