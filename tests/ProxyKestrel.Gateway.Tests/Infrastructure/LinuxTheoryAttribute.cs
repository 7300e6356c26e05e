namespace ProxyKestrel.Gateway.Tests.Infrastructure;

/// <summary>A theory that only runs on Linux; skipped elsewhere.</summary>
internal sealed class LinuxTheoryAttribute : TheoryAttribute
{
    public LinuxTheoryAttribute()
    {
        if (!OperatingSystem.IsLinux())
        {
            Skip = "Linux only: the epoll transport.";
        }
    }
}
