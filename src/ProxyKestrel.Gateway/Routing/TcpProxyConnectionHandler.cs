using System.Buffers;
using System.IO.Pipelines;
using System.Net;
using System.Net.Sockets;
using Microsoft.AspNetCore.Connections;
using Microsoft.Extensions.Logging;
using ProxyKestrel.Gateway.Configuration;
using ProxyKestrel.Gateway.Relay;
using Yarp.ReverseProxy;
using Yarp.ReverseProxy.Model;

namespace ProxyKestrel.Gateway.Routing;

/// <summary>
/// Handles one client connection of a TCP route: filter, limit, optional PROXY header from upstream, destination,
/// the PROXY header to the backend (written the moment the backend connection opens, before any client byte, so
/// server-speaks-first protocols such as SMTP work), then the relay.
/// </summary>
internal sealed class TcpProxyConnectionHandler
{
    private readonly IProxyStateLookup _clusters;
    private readonly DestinationConnector _connector;
    private readonly TimeProvider _timeProvider;
    private readonly ILogger _logger;
    private readonly TcpProxyMetrics _metrics;

    public TcpProxyConnectionHandler(IProxyStateLookup clusters, DestinationConnector connector, TimeProvider timeProvider, ILogger logger, TcpProxyMetrics metrics)
    {
        _clusters = clusters;
        _connector = connector;
        _timeProvider = timeProvider;
        _logger = logger;
        _metrics = metrics;
    }

    public async Task HandleAsync(ConnectionContext connection, TcpRoute route, CancellationToken abort)
    {
        string routeId = route.RouteId;
        if (!TcpConnectionSteps.TryAdmit(route, connection.RemoteEndPoint, _logger, _metrics))
        {
            connection.Abort();
            return;
        }

        long started = _timeProvider.GetTimestamp();
        _metrics.Opened(routeId);
        string result = "completed";
        long up = 0, down = 0;
        try
        {
            (result, up, down) = await RelayAsync(connection, route, abort).ConfigureAwait(false);
        }
        catch (Exception e) when (IsConnectionEnd(e))
        {
            // Before the relay (SNI peek, connect): killed by a drain timeout, or the client reset; as the epoll
            // transport counts it.
            result = abort.IsCancellationRequested ? "aborted" : "reset";
            connection.Abort();
        }
        finally
        {
            route.Exit();
            _metrics.Closed(routeId, result, _timeProvider.GetElapsedTime(started), up, down);
        }
    }

    private async Task<(string Result, long Up, long Down)> RelayAsync(ConnectionContext connection, TcpRoute route, CancellationToken abort)
    {
        PipeReader input = connection.Transport.Input;
        EndPoint? client = connection.RemoteEndPoint;
        EndPoint? dialled = connection.LocalEndPoint;
        ProxyHeader upstream = default;
        bool hasUpstream = false;
        ReadOnlySequence<byte> held = default;
        bool holding = false;

        if (route.Receiver is { } receiver)
        {
            (string? rejection, held, upstream, hasUpstream, holding) = await ReadUpstreamHeaderAsync(connection, route, receiver, abort).ConfigureAwait(false);
            if (rejection is not null)
            {
                connection.Abort();
                return (rejection, 0, 0);
            }

            if (hasUpstream && upstream.HasIPEndPoints)
            {
                client = upstream.GetSourceEndPoint();
                dialled = upstream.GetDestinationEndPoint();
            }

            if (!TcpConnectionSteps.IsAllowedAfterHeader(route, client, _logger))
            {
                ReleaseHeld(input, held, holding, 0);
                connection.Abort();
                return ("client_not_allowed", 0, 0);
            }
        }

        if (!_clusters.TryGetCluster(route.Config.ClusterId, out ClusterState? cluster))
        {
            ReleaseHeld(input, held, holding, hasUpstream ? upstream.Length : 0);
            TcpProxyLog.NoDestination(_logger, route.RouteId, route.Config.ClusterId, client);
            connection.Abort();
            return ("no_cluster", 0, 0);
        }

        ClusterProxyProtocol clusterProtocol = TcpConnectionSteps.ProtocolOf(cluster);
        string? serverName = null;
        if (TcpConnectionSteps.WaitsForServerName(clusterProtocol, hasUpstream, upstream))
        {
            // Authority from the client's TLS ClientHello (SNI): wait for its first bytes, up to ConnectTimeout.
            int skip = hasUpstream ? upstream.Length : 0;
            (serverName, held) = await PeekServerNameAsync(input, held, holding, skip, route.Config.ConnectTimeout, abort).ConfigureAwait(false);
            holding = true;
            if (hasUpstream)
            {
                // The buffer was read again: decode the upstream header from the current one.
                route.Receiver!.Evaluate(held, false, out upstream, out _);
            }
        }

        (Socket Socket, DestinationState Destination)? connected =
            await _connector.ConnectAsync(route.RouteId, cluster, route.Config.ConnectTimeout, abort).ConfigureAwait(false);
        if (connected is not { } backend)
        {
            ReleaseHeld(input, held, holding, hasUpstream ? upstream.Length : 0);
            TcpProxyLog.NoDestination(_logger, route.RouteId, route.Config.ClusterId, client);
            connection.Abort();
            return ("no_destination", 0, 0);
        }

        using Socket socket = backend.Socket;
        try
        {
            if (clusterProtocol.Version is not null)
            {
                int length = ProxyHeaderBuilder.Build(clusterProtocol, client, dialled, upstream, hasUpstream, serverName, connection.ConnectionId, out byte[] rented);
                try
                {
                    await socket.SendAsync(rented.AsMemory(0, length), SocketFlags.None, abort).ConfigureAwait(false);
                }
                finally
                {
                    ArrayPool<byte>.Shared.Return(rented);
                }
            }

            ReleaseHeld(input, held, holding, hasUpstream ? upstream.Length : 0);
            TcpConnectionSteps.AdjustConcurrency(backend.Destination, +1);
            try
            {
                var relay = new TcpRelay(connection, socket, route.Config.IdleTimeout, _timeProvider, abort);
                await relay.RunAsync().ConfigureAwait(false);
                TcpProxyLog.ConnectionRelayed(_logger, route.RouteId, client, backend.Destination.DestinationId, relay.BytesUp, relay.BytesDown, relay.Outcome);
                if (relay.Outcome != "completed")
                {
                    connection.Abort();
                }

                return (relay.Outcome, relay.BytesUp, relay.BytesDown);
            }
            finally
            {
                TcpConnectionSteps.AdjustConcurrency(backend.Destination, -1);
            }
        }
        catch (Exception e) when (e is SocketException or OperationCanceledException or ObjectDisposedException)
        {
            connection.Abort();
            return ("reset", 0, 0);
        }
    }

    /// <summary>
    /// Reads until the client's first TLS record is complete (or it is clearly not TLS, or <paramref name="wait"/>
    /// passes) and returns the SNI server name, if any. Nothing is consumed: the returned buffer is still held.
    /// <paramref name="abort"/> (a drain timeout) ends the wait with <see cref="OperationCanceledException"/>.
    /// </summary>
    private async Task<(string? ServerName, ReadOnlySequence<byte> Held)> PeekServerNameAsync(
        PipeReader input, ReadOnlySequence<byte> held, bool holding, int skip, TimeSpan wait, CancellationToken abort)
    {
        using ITimer timer = _timeProvider.CreateTimer(static state => ((PipeReader)state!).CancelPendingRead(), input, wait, Timeout.InfiniteTimeSpan);
        bool ended = false;
        if (!holding)
        {
            ReadResult first = await input.ReadAsync(abort).ConfigureAwait(false);
            held = first.Buffer;
            ended = first.IsCompleted || first.IsCanceled;
        }

        while (true)
        {
            ClientHelloStatus status = TlsClientHello.TryReadServerName(held.Slice(skip), out string? serverName);
            if (status != ClientHelloStatus.NeedMoreData || ended)
            {
                return (serverName, held);
            }

            input.AdvanceTo(held.Start, held.End);
            ReadResult read = await input.ReadAsync(abort).ConfigureAwait(false);
            held = read.Buffer;
            ended = read.IsCompleted || read.IsCanceled;
        }
    }

    private static bool IsConnectionEnd(Exception e) =>
        e is OperationCanceledException or IOException or SocketException or ObjectDisposedException;

    private static void ReleaseHeld(PipeReader input, ReadOnlySequence<byte> held, bool holding, int headerLength)
    {
        if (holding)
        {
            input.AdvanceTo(headerLength > 0 ? held.GetPosition(headerLength) : held.Start);
        }
    }

    /// <summary>
    /// The upstream header step. Holding: the returned buffer is read and not yet consumed (a trusted peer's header
    /// and what came with it). An untrusted peer let through is not read from at all: the backend is dialled at once,
    /// so a server-speaks-first backend's banner reaches a client that waits for it.
    /// </summary>
    private async Task<(string? Rejection, ReadOnlySequence<byte> Held, ProxyHeader Header, bool HasHeader, bool Holding)> ReadUpstreamHeaderAsync(
        ConnectionContext connection, TcpRoute route, ProxyProtocolReceiver receiver, CancellationToken abort)
    {
        EndPoint? peer = connection.RemoteEndPoint;
        if (!receiver.IsTrusted(peer))
        {
            if (receiver.UntrustedPeers == UntrustedPeerBehavior.Passthrough)
            {
                return (null, default, default, false, false);
            }

            TcpProxyLog.HeaderRejected(_logger, peer, route.RouteId, TcpConnectionSteps.UntrustedPeer);
            return ("untrusted_peer", default, default, false, false);
        }

        PipeReader input = connection.Transport.Input;
        using var timeout = new CancellationTokenSource(receiver.HeaderTimeout, _timeProvider);
        using var linked = CancellationTokenSource.CreateLinkedTokenSource(timeout.Token, abort);
        while (true)
        {
            ReadResult read;
            try
            {
                read = await input.ReadAsync(linked.Token).ConfigureAwait(false);
            }
            catch (OperationCanceledException) when (abort.IsCancellationRequested)
            {
                // Killed by a drain timeout while waiting: not the peer's fault.
                return ("aborted", default, default, false, false);
            }
            catch (OperationCanceledException)
            {
                TcpProxyLog.HeaderRejected(_logger, peer, route.RouteId, TcpConnectionSteps.HeaderTimeout(receiver.HeaderTimeout));
                return ("header_timeout", default, default, false, false);
            }
            catch (IOException)
            {
                // The peer reset (ConnectionResetException) before its header was complete: as a close, as the epoll
                // transport reads it.
                TcpProxyLog.HeaderRejected(_logger, peer, route.RouteId, TcpConnectionSteps.Rejection(ProxyParseError.None));
                return ("header_rejected", default, default, false, false);
            }

            ReadOnlySequence<byte> buffer = read.Buffer;
            switch (receiver.Evaluate(buffer, read.IsCompleted || read.IsCanceled, out ProxyHeader header, out ProxyParseError error))
            {
                case ProxyReceiveStatus.Accepted:
                    return (null, buffer, header, true, true);
                case ProxyReceiveStatus.NoHeader:
                    return (null, buffer, default, false, true);
                case ProxyReceiveStatus.Rejected:
                    input.AdvanceTo(buffer.Start, buffer.End);
                    TcpProxyLog.HeaderRejected(_logger, peer, route.RouteId, TcpConnectionSteps.Rejection(error));
                    return ("header_rejected", default, default, false, false);
                default:
                    input.AdvanceTo(buffer.Start, buffer.End);
                    break;
            }
        }
    }
}
