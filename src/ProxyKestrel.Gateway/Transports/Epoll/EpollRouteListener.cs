using System.Globalization;
using System.Net;
using System.Runtime.Versioning;
using ProxyKestrel.Gateway.Routing;

namespace ProxyKestrel.Gateway.Transports.Epoll;

/// <summary>
/// A route's endpoint on the epoll transport: one listening socket, registered in every loop, and the count of the
/// connections the loops accepted from it.
/// </summary>
[SupportedOSPlatform("linux")]
internal sealed class EpollRouteListener : ITcpRouteListener
{
    private static long s_connectionIds;
    private readonly List<EpollAcceptor> _acceptors = [];
    private readonly TaskCompletionSource _ended = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly bool _specificAddress;

    /// <summary>The listening socket every loop waits on; -1 once closed.</summary>
    private int _fd;
    private volatile TcpRouteTable _routes;
    private int _open;

    /// <summary>1 once <see cref="UnbindAsync"/> was called (it runs once).</summary>
    private int _unbinding;

    /// <summary>1 once no loop accepts from this listener any more: from then on, an open count of 0 is final.</summary>
    private int _unbound;

    public EpollRouteListener(IPEndPoint endPoint, TcpRouteTable routes, int fd)
    {
        _fd = fd;
        EndPoint = endPoint;
        _routes = routes;
        _specificAddress = !endPoint.Address.Equals(IPAddress.Any) && !endPoint.Address.Equals(IPAddress.IPv6Any);
    }

    public EndPoint EndPoint { get; }

    public TcpRouteTable Routes
    {
        get => _routes;
        set => _routes = value;
    }

    internal void Add(EpollAcceptor acceptor) => _acceptors.Add(acceptor);

    public async Task UnbindAsync()
    {
        if (Interlocked.Exchange(ref _unbinding, 1) == 1)
        {
            return;
        }

        await Task.WhenAll(_acceptors.Select(a => a.Loop.InvokeAsync(a.Unregister))).ConfigureAwait(false);
        if (_fd >= 0)
        {
            LinuxNative.Close(_fd);
            _fd = -1;
        }

        // Only now: a connection accepted while the loops were still unregistering could otherwise close, take the
        // count to 0 and end the wait while a later one is still open. (The exchange is a full fence, paired with
        // the decrement in ConnectionClosed: one of the two sees the other.)
        Interlocked.Exchange(ref _unbound, 1);
        if (Volatile.Read(ref _open) == 0)
        {
            _ended.TrySetResult();
        }
    }

    public Task WhenConnectionsEndedAsync() => _ended.Task;

    public void AbortConnections()
    {
        foreach (EpollLoop loop in _acceptors.Select(a => a.Loop).Distinct())
        {
            loop.Post(() => loop.AbortConnections(this));
        }
    }

    public async ValueTask DisposeAsync() => await UnbindAsync().ConfigureAwait(false);

    /// <summary>A connection was accepted (on its loop's thread).</summary>
    internal void ConnectionOpened() => Interlocked.Increment(ref _open);

    /// <summary>A connection ended (on its loop's thread).</summary>
    internal void ConnectionClosed()
    {
        if (Interlocked.Decrement(ref _open) == 0 && Volatile.Read(ref _unbound) == 1)
        {
            _ended.TrySetResult();
        }
    }

    /// <summary>The address a client dialled: the bound one, or the socket's own for a wildcard listener.</summary>
    internal EndPoint? LocalEndPointOf(int fd) => _specificAddress ? EndPoint : LinuxNative.LocalEndPoint(fd);

    /// <summary>A process-wide unique connection id (the PROXY v2 unique-id TLV).</summary>
    internal static string NextConnectionId() =>
        "E" + Interlocked.Increment(ref s_connectionIds).ToString("X12", CultureInfo.InvariantCulture);
}
