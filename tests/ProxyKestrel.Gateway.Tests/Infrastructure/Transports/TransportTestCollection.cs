using System.ComponentModel;
using System.Security.Cryptography;
using System.Text;
using ProxyKestrel.Gateway.Configuration;
using Xunit.Abstractions;
using Xunit.Sdk;

namespace ProxyKestrel.Gateway.Tests.Infrastructure.Transports;

/// <summary>
/// A test collection's copy for one transport: same collection definition (so <c>DisableParallelization</c> and
/// collection fixtures still apply), its own identity, so xunit creates the class and collection fixtures once per
/// transport while the ambient transport is set. Its id is derived from the original's, so it is the same in every
/// discovery.
/// </summary>
internal sealed class TransportTestCollection : TestCollection
{
    [EditorBrowsable(EditorBrowsableState.Never)]
    [Obsolete("Called by the de-serializer", error: true)]
    public TransportTestCollection()
    {
    }

    public TransportTestCollection(ITestCollection original, TcpProxyTransport transport)
        : base(original.TestAssembly, original.CollectionDefinition, TransportMatrix.DisplayName(original.DisplayName, transport), IdOf(original, transport))
    {
        Transport = transport;
    }

    /// <summary>The transport the collection's tests and fixtures run on.</summary>
    public TcpProxyTransport Transport { get; private set; }

    /// <summary>The transport of a test method in a per-transport collection.</summary>
    public static TcpProxyTransport Of(ITestMethod testMethod) => ((TransportTestCollection)testMethod.TestClass.TestCollection).Transport;

    public override void Serialize(IXunitSerializationInfo info)
    {
        base.Serialize(info);
        info.AddValue(nameof(Transport), Transport.ToString());
    }

    public override void Deserialize(IXunitSerializationInfo info)
    {
        base.Deserialize(info);
        Transport = Enum.Parse<TcpProxyTransport>(info.GetValue<string>(nameof(Transport)));
    }

    private static Guid IdOf(ITestCollection original, TcpProxyTransport transport) =>
        new(SHA256.HashData(Encoding.UTF8.GetBytes($"{original.UniqueID:N}/{transport}")).AsSpan(0, 16));
}
