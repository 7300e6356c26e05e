using System.Buffers;
using System.Net;
using System.Runtime.CompilerServices;
using ProxyKestrel.Gateway.Diagnostics;
using ProxyKestrel.Gateway.Routing;
using Yarp.ReverseProxy.Model;

namespace ProxyKestrel.Gateway.Lifecycle;

/// <summary>
/// The last step of <see cref="TcpConnectionLifecycle"/>, for a connection whose relay runs: what its end needs (the
/// counts it holds, the PROXY header's buffer) and the end itself. While a connection relays, this and the transport's
/// own state are all that it holds: no task, no async state machine.
/// </summary>
internal sealed class RelayingConnection : IRelayEnded
{
    private readonly TcpConnectionLifecycle _lifecycle;
    private readonly ITcpConnectionIo _io;
    private readonly TcpRoute _route;
    private readonly TcpConnectionRecord _record;
    private readonly EndPoint? _client;
    private readonly DestinationState _destination;
    private readonly StrongBox<int> _relayedToCluster;
    private byte[]? _header;
    private int _ended;

    public RelayingConnection(
        TcpConnectionLifecycle lifecycle,
        ITcpConnectionIo io,
        TcpRoute route,
        TcpConnectionRecord record,
        EndPoint? client,
        DestinationState destination,
        StrongBox<int> relayedToCluster,
        byte[]? header)
    {
        _lifecycle = lifecycle;
        _io = io;
        _route = route;
        _record = record;
        _client = client;
        _destination = destination;
        _relayedToCluster = relayedToCluster;
        _header = header;
        // YARP's per-destination count (read by LeastRequests and PowerOfTwoChoices) and the cluster's, while relaying.
        Interlocked.Increment(ref relayedToCluster.Value);
        DestinationConcurrency.Increment(destination);
    }

    public void RelayEnded(RelayResult result)
    {
        if (Interlocked.Exchange(ref _ended, 1) == 1)
        {
            return;
        }

        try
        {
            if (_header is { } header)
            {
                _header = null;
                ArrayPool<byte>.Shared.Return(header);
            }

            _record.BytesUp = result.BytesUp;
            _record.BytesDown = result.BytesDown;
            _record.ClusterConnections = Volatile.Read(ref _relayedToCluster.Value);
            _record.DestinationConnections = _destination.ConcurrentRequestCount;
            _record.End = TcpConnectionEnds.FromRelay(result.End);
            string outcome = _record.End.Result();
            TcpProxyLog.ConnectionRelayed(_lifecycle.Logger, _route.RouteId, _client, _destination.DestinationId, result.BytesUp, result.BytesDown, outcome);
        }
        catch (Exception e) when (e is not OutOfMemoryException)
        {
            TcpProxyLog.ConnectionFailed(_lifecycle.Logger, _route.RouteId, _client, e);
            _record.End = TcpConnectionEnd.ClientAborted;
        }
        finally
        {
            DestinationConcurrency.Decrement(_destination);
            Interlocked.Decrement(ref _relayedToCluster.Value);
            _lifecycle.Finish(_io, _route, _record);
        }
    }
}
