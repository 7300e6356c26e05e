namespace ProxyKestrel.Gateway.Tests.Infrastructure;

/// <summary>
/// Tests that measure time against real processes or background probes: they run alone, not next to the rest of the
/// suite on a 2-core machine.
/// </summary>
[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class TimingSensitive
{
    public const string Name = "Serial (timing-sensitive)";
}
