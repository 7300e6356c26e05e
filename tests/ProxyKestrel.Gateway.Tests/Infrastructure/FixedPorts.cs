namespace ProxyKestrel.Gateway.Tests.Infrastructure;

/// <summary>
/// Tests that bind fixed ports (eng/demo.sh: the sample's shipped 2525, 5080 and 8081, Postfix on 10024): they run
/// alone, after the parallel tests (every other test binds port 0 or a free port from the ephemeral range).
/// </summary>
[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class FixedPorts
{
    public const string Name = "Serial (fixed ports)";
}
