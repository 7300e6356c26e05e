namespace ProxyKestrel.Gateway.Tests.Infrastructure.Transports;

/// <summary>
/// The test (or every test of the class) runs once, not once per TCP transport: it does not depend on the transport
/// (no gateway, or only configuration checks), or it pins the transport it tests itself (<c>GatewayHost</c>'s
/// <c>transport:</c> argument, <c>TcpProxy:Transport</c> in its JSON). No ambient transport is set while it runs.
/// Whole namespaces: <see cref="NotPerTransportNamespaceAttribute"/>.
/// </summary>
[AttributeUsage(AttributeTargets.Class | AttributeTargets.Method, AllowMultiple = false)]
internal sealed class NotPerTransportAttribute(string reason) : Attribute
{
    /// <summary>Why the transport does not matter to the test.</summary>
    public string Reason { get; } = reason;
}
