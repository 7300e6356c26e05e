namespace ProxyKestrel.Testing;

/// <summary>Where the repository and the build output are.</summary>
public static class RepoPaths
{
    /// <summary>The repository root (the folder holding ProxyKestrel.sln).</summary>
    public static string Root { get; } = FindRoot();

#if DEBUG
    /// <summary>The build configuration of the tests, and so of the sample they run.</summary>
    public const string Configuration = "Debug";
#else
    /// <summary>The build configuration of the tests, and so of the sample they run.</summary>
    public const string Configuration = "Release";
#endif

    /// <summary>The build output folder of a sample (e.g. <c>WebApp</c>, <c>Gateway</c>) in <see cref="Configuration"/>.</summary>
    public static string SampleOutput(string sample) => Path.Combine(Root, "samples", sample, "bin", Configuration, "net10.0");

    private static string FindRoot()
    {
        string? directory = AppContext.BaseDirectory;
        while (directory is not null && !File.Exists(Path.Combine(directory, "ProxyKestrel.sln")))
        {
            directory = Path.GetDirectoryName(directory);
        }

        return directory ?? throw new InvalidOperationException("ProxyKestrel.sln not found above " + AppContext.BaseDirectory);
    }
}
