namespace ProxyKestrel.Gateway.Tests.Infrastructure;

/// <summary>A fact that only runs on Linux (the epoll transport's P/Invokes); skipped elsewhere.</summary>
internal sealed class LinuxFactAttribute : FactAttribute
{
    public LinuxFactAttribute()
    {
        if (!OperatingSystem.IsLinux())
        {
            Skip = "Linux only: the epoll transport.";
        }
    }
}
