using System.Net;
using System.Net.Sockets;
using System.Runtime.Versioning;
using Microsoft.AspNetCore.Connections;
using Microsoft.Extensions.Logging;
using ProxyKestrel.Gateway.Lifecycle;
using ProxyKestrel.Gateway.Routing;
using static ProxyKestrel.Gateway.Transports.Epoll.LinuxNative;

namespace ProxyKestrel.Gateway.Transports.Epoll;

/// <summary>
/// The Linux transport of the TCP routes: one <see cref="EpollLoop"/> per core, started with the first listener.
/// Each bound endpoint has one listening socket that every loop waits on (<c>EPOLLEXCLUSIVE</c>: one loop is woken
/// per connection); a connection stays on the loop that accepted it, which also owns its backend socket.
/// </summary>
[SupportedOSPlatform("linux")]
internal sealed class EpollRouteTransport : ITcpRouteTransport
{
    /// <summary>How often the loops check deadlines (header, connect, idle): the precision of those timeouts.</summary>
    public static readonly TimeSpan TickPeriod = TimeSpan.FromMilliseconds(50);

    private const int Backlog = 1024;
    private readonly Lock _lock = new();
    private EpollLoop[]? _loops;

    public EpollRouteTransport(TcpConnectionLifecycle lifecycle) => Lifecycle = lifecycle;

    public string Name => "Epoll";

    /// <summary>What runs each accepted connection, on its loop's thread.</summary>
    public TcpConnectionLifecycle Lifecycle { get; }

    public TimeProvider TimeProvider => Lifecycle.TimeProvider;

    public ILogger Logger => Lifecycle.Logger;

    public async ValueTask<ITcpRouteListener> BindAsync(IPEndPoint endPoint, TcpRouteTable routes, CancellationToken cancellationToken)
    {
        EpollLoop[] loops = EnsureLoops();
        int fd = Listen(endPoint);
        IPEndPoint bound = endPoint.Port == 0 ? LocalEndPoint(fd) ?? endPoint : endPoint;
        var listener = new EpollRouteListener(bound, routes, fd);
        var acceptors = loops.Select(loop => new EpollAcceptor(loop, listener, fd)).ToList();
        acceptors.ForEach(listener.Add);
        try
        {
            await Task.WhenAll(acceptors.Select(a => a.Loop.InvokeAsync(a.Register))).ConfigureAwait(false);
        }
        catch
        {
            await listener.UnbindAsync().ConfigureAwait(false);
            throw;
        }

        return listener;
    }

    public ValueTask DisposeAsync()
    {
        EpollLoop[]? loops;
        lock (_lock)
        {
            loops = _loops;
            _loops = null;
        }

        foreach (EpollLoop loop in loops ?? [])
        {
            loop.Dispose();
        }

        return ValueTask.CompletedTask;
    }

    private EpollLoop[] EnsureLoops()
    {
        lock (_lock)
        {
            if (_loops is null)
            {
                var loops = new EpollLoop[Environment.ProcessorCount];
                try
                {
                    for (int i = 0; i < loops.Length; i++)
                    {
                        loops[i] = new EpollLoop(this, i);
                    }
                }
                catch
                {
                    // One loop could not start (no descriptor left, say): stop the ones that did.
                    foreach (EpollLoop? started in loops)
                    {
                        started?.Dispose();
                    }

                    throw;
                }

                _loops = loops;
            }

            return _loops;
        }
    }

    /// <summary>A non-blocking listening socket on <paramref name="endPoint"/> (dual-stack for <c>[::]</c>).</summary>
    private static unsafe int Listen(IPEndPoint endPoint)
    {
        int family = endPoint.AddressFamily == AddressFamily.InterNetwork ? AfInet : AfInet6;
        int fd = LinuxNative.Socket(family, SockStream | SockNonBlock | SockCloExec, 0);
        if (fd < 0)
        {
            throw Failure("socket", Errno, endPoint);
        }

        SetInt(fd, SolSocket, SoReuseAddr, 1);
        // No Nagle delay on what is relayed to clients (as Kestrel and HAProxy): accepted sockets inherit the
        // option from the listening socket on Linux, which saves a setsockopt per connection.
        SetInt(fd, IpProtoTcp, TcpNoDelay, 1);
        if (family == AfInet6 && endPoint.Address.Equals(IPAddress.IPv6Any))
        {
            SetInt(fd, IpProtoIPv6, IPv6V6Only, 0);
        }

        byte* address = stackalloc byte[SockAddrSize];
        uint length = WriteSockAddr(endPoint, address);
        if (LinuxNative.Bind(fd, address, length) != 0 || LinuxNative.Listen(fd, Backlog) != 0)
        {
            int errno = Errno;
            Close(fd);
            throw Failure("bind", errno, endPoint);
        }

        return fd;
    }

    private static Exception Failure(string call, int errno, IPEndPoint endPoint) => errno == EAddrInUse
        ? new AddressInUseException($"Failed to bind to address {endPoint}: address already in use.")
        : new IOException($"{call} on {endPoint} failed: {Describe(errno)}");
}
