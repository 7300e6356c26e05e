namespace ProxyKestrel.Gateway.Tests.Infrastructure.Transports;

/// <summary>
/// Every test class in <see cref="Namespace"/> (and the namespaces under it) runs once, as if marked
/// <see cref="NotPerTransportAttribute"/>; the list is in Infrastructure/AssemblyInfo.cs.
/// </summary>
[AttributeUsage(AttributeTargets.Assembly, AllowMultiple = true)]
internal sealed class NotPerTransportNamespaceAttribute(string @namespace, string reason) : Attribute
{
    /// <summary>The namespace, e.g. <c>ProxyKestrel.Gateway.Tests.Kubernetes</c>.</summary>
    public string Namespace { get; } = @namespace;

    /// <summary>Why the transport does not matter to its tests.</summary>
    public string Reason { get; } = reason;
}
