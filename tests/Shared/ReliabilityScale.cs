namespace ProxyKestrel.Testing;

/// <summary>
/// The size of the reliability scenarios: the short versions every test run executes, or the full versions
/// <c>eng/reliability/run.sh</c> asks for with <c>PROXYKESTREL_RELIABILITY=full</c>.
/// </summary>
public static class ReliabilityScale
{
    /// <summary>The environment variable that selects the full versions.</summary>
    public const string Variable = "PROXYKESTREL_RELIABILITY";

    /// <summary>True when the full versions are asked for.</summary>
    public static bool IsFull { get; } = string.Equals(Environment.GetEnvironmentVariable(Variable), "full", StringComparison.OrdinalIgnoreCase);

    /// <summary>"full" or "smoke".</summary>
    public static string Name => IsFull ? "full" : "smoke";

    /// <summary><paramref name="full"/> in a full run, else <paramref name="smoke"/>.</summary>
    public static T Pick<T>(T smoke, T full) => IsFull ? full : smoke;
}
