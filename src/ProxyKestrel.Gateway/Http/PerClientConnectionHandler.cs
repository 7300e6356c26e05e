using System.Buffers;
using System.Collections.Concurrent;
using System.Globalization;
using System.Net;
using System.Net.Sockets;
using Microsoft.AspNetCore.Connections.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.Extensions.Logging;
using ProxyKestrel.Gateway.Configuration;
using ProxyKestrel.Gateway.Routing;

using ProxyKestrel.Gateway.Lifecycle;

namespace ProxyKestrel.Gateway.Http;

/// <summary>
/// Forwards each request over a <see cref="SocketsHttpHandler"/> of its own inbound connection, so a backend
/// connection (which starts with that client's PROXY header) is never reused for another client. A pool is created
/// on the first request of an inbound connection and disposed when that connection closes.
/// </summary>
internal sealed class PerClientConnectionHandler : HttpMessageHandler
{
    /// <summary>The key of the pool used when a request carries no inbound context (LOCAL / UNKNOWN header).</summary>
    private const string NoClientKey = "";

    private readonly string _clusterId;
    private readonly ClusterProxyProtocol _protocol;
    private readonly Func<SocketsHttpHandler> _createHandler;
    private readonly ILogger _logger;
    private readonly ConcurrentDictionary<string, ClientPool> _pools = new(StringComparer.Ordinal);
    private long _backendConnections;
    private volatile bool _disposed;

    /// <param name="clusterId">The cluster (for logs).</param>
    /// <param name="protocol">The header to send (version and TLVs).</param>
    /// <param name="createHandler">Creates a handler configured like YARP's for the cluster; its ConnectCallback is set here.</param>
    /// <param name="logger">The logger.</param>
    public PerClientConnectionHandler(string clusterId, ClusterProxyProtocol protocol, Func<SocketsHttpHandler> createHandler, ILogger logger)
    {
        _clusterId = clusterId;
        _protocol = protocol;
        _createHandler = createHandler;
        _logger = logger;
    }

    /// <summary>The protocol this handler sends (to decide whether a reloaded cluster can keep it).</summary>
    public ClusterProxyProtocol Protocol => _protocol;

    /// <summary>The number of inbound connections that currently own a backend pool (for tests).</summary>
    internal int PoolCount => _pools.Count;

    /// <inheritdoc/>
    protected override Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        ClientPool pool = GetPool(request);
        return pool.Invoker.SendAsync(request, cancellationToken);
    }

    /// <inheritdoc/>
    protected override void Dispose(bool disposing)
    {
        if (disposing && !_disposed)
        {
            _disposed = true;
            foreach (string key in _pools.Keys)
            {
                if (_pools.TryRemove(key, out ClientPool? pool))
                {
                    pool.Dispose();
                }
            }
        }

        base.Dispose(disposing);
    }

    private ClientPool GetPool(HttpRequestMessage request)
    {
        if (!request.Options.TryGetValue(InboundConnectionKey.HttpContext, out HttpContext? context) || context is null)
        {
            if (_pools.TryGetValue(NoClientKey, out ClientPool? shared))
            {
                return shared;
            }

            ProxyProtocolHttpLog.NoInboundContext(_logger, _clusterId);
            return _pools.GetOrAdd(NoClientKey, _ => CreatePool(NoClientKey, client: null, dialled: null, serverName: null));
        }

        ConnectionInfo connection = context.Connection;
        string key = connection.Id;
        if (_pools.TryGetValue(key, out ClientPool? existing))
        {
            return existing;
        }

        IPEndPoint? client = connection.RemoteIpAddress is { } remote ? new IPEndPoint(remote, connection.RemotePort) : null;
        IPEndPoint? dialled = connection.LocalIpAddress is { } local ? new IPEndPoint(local, connection.LocalPort) : null;
        string? serverName = context.Features.Get<ITlsHandshakeFeature>()?.HostName;
        ClientPool created = CreatePool(key, client, dialled, string.IsNullOrEmpty(serverName) ? null : serverName);
        if (!HttpProtocol.IsHttp2(context.Request.Protocol) && !HttpProtocol.IsHttp3(context.Request.Protocol))
        {
            // An HTTP/1.x client has one request in flight at a time: one backend connection serves it. Without this
            // limit its next request, arriving before the previous backend connection is back in the pool, would
            // open (and keep) a second backend connection with a second PROXY header.
            created.Handler.MaxConnectionsPerServer = 1;
        }

        ClientPool pool = _pools.GetOrAdd(key, created);
        if (!ReferenceEquals(pool, created))
        {
            // Another request of the same (HTTP/2) connection won the race; nothing was connected yet.
            created.Dispose();
            return pool;
        }

        CancellationToken closed = context.Features.Get<IConnectionLifetimeFeature>()?.ConnectionClosed ?? CancellationToken.None;
        if (closed.CanBeCanceled)
        {
            pool.Registration = closed.UnsafeRegister(static state => ((ClientPool)state!).Release(), pool);
        }
        else
        {
            // No connection lifetime to follow: the pool lives for this request only (still never shared).
            context.Response.RegisterForDispose(new ReleaseOnDispose(pool));
        }

        return pool;
    }

    private ClientPool CreatePool(string key, IPEndPoint? client, IPEndPoint? dialled, string? serverName)
    {
        SocketsHttpHandler handler = _createHandler();
        var pool = new ClientPool(this, key, handler);
        handler.ConnectCallback = (context, cancellationToken) => ConnectAsync(context, client, dialled, serverName, key, cancellationToken);
        return pool;
    }

    private async ValueTask<Stream> ConnectAsync(
        SocketsHttpConnectionContext context, IPEndPoint? client, IPEndPoint? dialled, string? serverName, string connectionId, CancellationToken cancellationToken)
    {
        var socket = new Socket(SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
        NetworkStream? stream = null;
        try
        {
            await socket.ConnectAsync(context.DnsEndPoint, cancellationToken).ConfigureAwait(false);
            stream = new NetworkStream(socket, ownsSocket: true);
            long n = Interlocked.Increment(ref _backendConnections);
            string uniqueId = string.IsNullOrEmpty(connectionId)
                ? n.ToString(CultureInfo.InvariantCulture)
                : string.Create(CultureInfo.InvariantCulture, $"{connectionId}-{n}");
            ProxyHeader none = default;
            int length = ProxyHeaderBuilder.Build(_protocol, client, dialled, none, hasUpstream: false, serverName, uniqueId, out byte[] rented);

            // The header leaves with the request's first bytes (one send instead of two).
            var headed = new HeaderFirstStream(stream, rented, length);
            ProxyProtocolHttpLog.BackendConnected(_logger, _clusterId, socket.RemoteEndPoint, connectionId, client);

            return headed;
        }
        catch
        {
            if (stream is not null)
            {
                await stream.DisposeAsync().ConfigureAwait(false);
            }
            else
            {
                socket.Dispose();
            }

            throw;
        }
    }

    /// <summary>The backend connections of one inbound connection.</summary>
    private sealed class ClientPool : IDisposable
    {
        private readonly PerClientConnectionHandler _owner;
        private readonly string _key;

        public ClientPool(PerClientConnectionHandler owner, string key, SocketsHttpHandler handler)
        {
            _owner = owner;
            _key = key;
            Handler = handler;
            Invoker = new HttpMessageInvoker(handler, disposeHandler: true);
        }

        public SocketsHttpHandler Handler { get; }

        public HttpMessageInvoker Invoker { get; }

        public CancellationTokenRegistration Registration { get; set; }

        /// <summary>The inbound connection closed: forget the pool and close its backend connections.</summary>
        public void Release()
        {
            _owner._pools.TryRemove(new KeyValuePair<string, ClientPool>(_key, this));
            Dispose();
        }

        public void Dispose()
        {
            Registration.Dispose();
            Invoker.Dispose();
        }
    }

    private sealed class ReleaseOnDispose(ClientPool pool) : IDisposable
    {
        public void Dispose() => pool.Release();
    }
}
