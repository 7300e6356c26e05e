using System.Net;
using ProxyKestrel.Gateway.Diagnostics;
using ProxyKestrel.Gateway.Routing;

namespace ProxyKestrel.Gateway.Lifecycle;

/// <summary>
/// The bookkeeping of <see cref="TcpConnectionLifecycle"/>: admission to a route, the end (counts, metrics, access
/// log, close), and the clock of the steps' deadlines.
/// </summary>
internal sealed partial class TcpConnectionLifecycle
{
    /// <summary>
    /// The end: counted and logged before the sockets close, so whoever sees the close can read both; then the
    /// listener stops counting the connection.
    /// </summary>
    internal void Finish(ITcpConnectionIo io, TcpRoute? admitted, TcpConnectionRecord record)
    {
        try
        {
            Record(record, admitted, admitted is not null);
        }
        finally
        {
            io.Close(record.End.CloseMode());
            io.Ended();
        }
    }

    /// <summary>
    /// <c>AllowedClients</c> (when <paramref name="checkClient"/>: a route that reads an upstream header checks the
    /// header's client, later) and <c>MaxConnections</c>. Admitted, the connection holds a slot until
    /// <see cref="Record"/> gives it back, and is counted open.
    /// </summary>
    private TcpConnectionEnd? Admit(TcpRoute route, EndPoint? client, bool checkClient)
    {
        if (checkClient && !route.IsAllowed(client))
        {
            TcpProxyLog.ClientNotAllowed(_logger, client, route.RouteId);
            return TcpConnectionEnd.ClientNotAllowed;
        }

        if (!route.TryEnter())
        {
            TcpProxyLog.MaxConnectionsReached(_logger, client, route.RouteId, route.Config.MaxConnections ?? 0);
            return TcpConnectionEnd.MaxConnections;
        }

        _counts.Opened();
        _metrics.Opened(route.RouteId);
        return null;
    }

    /// <summary>
    /// The end is known: give back the route's slot, count it, write the access log. The counts in the entry include
    /// this connection, as HAProxy's do.
    /// </summary>
    private void Record(TcpConnectionRecord record, TcpRoute? route, bool admitted)
    {
        TimeSpan duration = _time.GetElapsedTime(record.AcceptedAt);
        record.TotalMs = (long)duration.TotalMilliseconds;
        bool logged = _accessLog.IsEnabled;
        if (logged)
        {
            record.ActiveConnections = _counts.Active;
            record.RouteConnections = route?.Open ?? 0;
            if (record.Phase != TcpConnectionPhase.Data && route is not null)
            {
                record.ClusterConnections = _counts.RelayedTo(route.Config.ClusterId);
            }
        }

        if (admitted && route is not null)
        {
            route.Exit();
            _counts.Closed();
            _metrics.Closed(route.RouteId, record.End.Result(), duration, record.BytesUp, record.BytesDown);
        }
        else
        {
            _metrics.Refused(record.RouteId, record.End.Result());
        }

        if (logged)
        {
            _accessLog.Write(record);
        }
    }

    /// <summary>
    /// A deadline <paramref name="timeout"/> after the current step started, in timestamps of the gateway's clock. A
    /// step starts when the previous one's wait ended (the first one at the accept, before the connection was counted
    /// open), so a deadline does not depend on how long the loop took to get to it.
    /// </summary>
    private long Deadline(TcpConnectionRecord record, TimeSpan timeout)
    {
        double ticks = Math.Max(0, timeout.TotalSeconds) * _time.TimestampFrequency;
        long from = record.StepStartedAt;
        return ticks >= long.MaxValue - from ? long.MaxValue : from + (long)ticks;
    }

    /// <summary>
    /// What a client receive while peeking ends the connection with: killed (the drain ended), or a reset (nobody to
    /// relay for: no backend is dialled); null to go on.
    /// </summary>
    private static TcpConnectionEnd? EndBeforeRelay(ReceiveStatus status) => status switch
    {
        ReceiveStatus.Killed => TcpConnectionEnd.Killed,
        ReceiveStatus.Reset => TcpConnectionEnd.ClientAborted,
        _ => null,
    };

    /// <summary>The client's bytes after the upstream header, at most <paramref name="max"/> of them.</summary>
    private static System.Buffers.ReadOnlySequence<byte> Inspected(in System.Buffers.ReadOnlySequence<byte> received, int skip, int max)
    {
        System.Buffers.ReadOnlySequence<byte> rest = received.Slice(skip);
        return rest.Length > max ? rest.Slice(0, max) : rest;
    }

    /// <summary>A wait ended: the next step starts now.</summary>
    private T Stepped<T>(TcpConnectionRecord record, T result)
    {
        record.StepStartedAt = _time.GetTimestamp();
        return result;
    }
}
