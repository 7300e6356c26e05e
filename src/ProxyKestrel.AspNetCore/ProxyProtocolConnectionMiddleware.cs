using System.Buffers;
using System.IO.Pipelines;
using Microsoft.AspNetCore.Connections;
using Microsoft.Extensions.Logging;
using ProxyKestrel.ProxyProtocol;

namespace ProxyKestrel.AspNetCore;

/// <summary>
/// Reads the PROXY header at the start of each connection, before TLS and HTTP, and replaces the connection's
/// endpoints with the ones it carries. Nothing is passed on before a complete, valid header; a bad header, a
/// timeout or an untrusted sender closes the connection without writing to it.
/// </summary>
internal sealed class ProxyProtocolConnectionMiddleware
{
    private readonly ConnectionDelegate _next;
    private readonly ProxyProtocolReceiver _settings;
    private readonly ILogger _logger;
    private readonly ProxyProtocolMetrics _metrics;
    private readonly TimeProvider _timeProvider;

    public ProxyProtocolConnectionMiddleware(
        ConnectionDelegate next,
        ProxyProtocolReceiver settings,
        ILogger logger,
        ProxyProtocolMetrics metrics,
        TimeProvider timeProvider)
    {
        _next = next;
        _settings = settings;
        _logger = logger;
        _metrics = metrics;
        _timeProvider = timeProvider;
    }

    public async Task OnConnectionAsync(ConnectionContext context)
    {
        if (!_settings.IsTrusted(context.RemoteEndPoint))
        {
            if (_settings.UntrustedPeers == UntrustedPeerBehavior.Passthrough)
            {
                ProxyProtocolLog.UntrustedPeerPassthrough(_logger, context.ConnectionId, context.RemoteEndPoint);
                _metrics.Passthrough("untrusted_peer");
                await _next(context).ConfigureAwait(false);
                return;
            }

            ProxyProtocolLog.UntrustedPeerRejected(_logger, context.ConnectionId, context.RemoteEndPoint);
            _metrics.Rejected("untrusted_peer", TimeSpan.Zero);
            context.Abort(new ConnectionAbortedException("The peer is not in ProxyProtocol:TrustedNetworks."));
            return;
        }

        long started = _timeProvider.GetTimestamp();
        HeaderOutcome outcome = await ReadHeaderAsync(context, started).ConfigureAwait(false);
        switch (outcome)
        {
            case HeaderOutcome.Rejected:
                context.Abort(new ConnectionAbortedException("Invalid or missing PROXY protocol header."));
                return;
            case HeaderOutcome.PassOnAfterFin:
                // The client half-closed behind its header: what it sent before the FIN is served before the close.
                await using (var halfClosed = new HalfClosedConnectionContext(context))
                {
                    await _next(halfClosed).ConfigureAwait(false);
                }

                return;
            default:
                await _next(context).ConfigureAwait(false);
                return;
        }
    }

    private async Task<HeaderOutcome> ReadHeaderAsync(ConnectionContext context, long started)
    {
        // Only the pipe tells when the client is done: a FIN completes it after the bytes sent before it, which are
        // parsed like any others; ConnectionClosed, which Kestrel fires on that FIN, is not watched here (cancelling the
        // read on it dropped complete headers still in the pipe).
        PipeReader input = context.Transport.Input;
        using var timeout = new CancellationTokenSource(_settings.HeaderTimeout, _timeProvider);
        long received = 0;
        while (true)
        {
            ReadResult read;
            try
            {
                read = await input.ReadAsync(timeout.Token).ConfigureAwait(false);
            }
            catch (OperationCanceledException) when (timeout.IsCancellationRequested)
            {
                ProxyProtocolLog.HeaderTimeout(_logger, context.ConnectionId, context.RemoteEndPoint, _settings.HeaderTimeout, received);
                _metrics.Rejected("timeout", _timeProvider.GetElapsedTime(started));
                return HeaderOutcome.Rejected;
            }
            catch (Exception e) when (e is IOException or ConnectionAbortedException)
            {
                // Reset by the client, or aborted by the server (shutdown) before a complete header.
                ProxyProtocolLog.ClosedBeforeHeader(_logger, context.ConnectionId, context.RemoteEndPoint, received);
                _metrics.Rejected("closed_before_header", _timeProvider.GetElapsedTime(started));
                return HeaderOutcome.Rejected;
            }

            ReadOnlySequence<byte> buffer = read.Buffer;
            received = buffer.Length;
            switch (_settings.Evaluate(buffer, read.IsCompleted || read.IsCanceled, out ProxyHeader header, out ProxyParseError error))
            {
                case ProxyReceiveStatus.Accepted:
                    Accept(context, header, started);
                    input.AdvanceTo(buffer.GetPosition(header.Length));
                    return PassOn(context, read);

                case ProxyReceiveStatus.NoHeader:
                    // Optional mode: the first bytes cannot start a header, so there is none. Consume nothing.
                    input.AdvanceTo(buffer.Start);
                    ProxyProtocolLog.NoHeaderOptional(_logger, context.ConnectionId, context.RemoteEndPoint);
                    _metrics.Passthrough("no_header");
                    return PassOn(context, read);

                case ProxyReceiveStatus.Rejected when error == ProxyParseError.None:
                    input.AdvanceTo(buffer.Start, buffer.End);
                    ProxyProtocolLog.ClosedBeforeHeader(_logger, context.ConnectionId, context.RemoteEndPoint, received);
                    _metrics.Rejected("closed_before_header", _timeProvider.GetElapsedTime(started));
                    return HeaderOutcome.Rejected;

                case ProxyReceiveStatus.Rejected:
                    input.AdvanceTo(buffer.Start, buffer.End);
                    ProxyProtocolLog.HeaderRejected(_logger, context.ConnectionId, context.RemoteEndPoint, error.Describe());
                    _metrics.Rejected(error.ToString(), _timeProvider.GetElapsedTime(started));
                    return HeaderOutcome.Rejected;

                default:
                    input.AdvanceTo(buffer.Start, buffer.End);
                    break;
            }
        }
    }

    private void Accept(ConnectionContext context, in ProxyHeader header, long started)
    {
        var feature = new ProxyProtocolFeature(header, context.RemoteEndPoint, context.LocalEndPoint);
        context.Features.Set<IProxyProtocolFeature>(feature);
        if (header.HasIPEndPoints)
        {
            context.RemoteEndPoint = feature.Source;
            context.LocalEndPoint = feature.Destination;
        }

        ProxyProtocolLog.HeaderAccepted(_logger, context.ConnectionId, (int)header.Version, feature.ProxyEndPoint, context.RemoteEndPoint, context.LocalEndPoint);
        _metrics.Accepted((int)header.Version, header.Command == ProxyCommand.Proxy ? "proxy" : "local", _timeProvider.GetElapsedTime(started));
    }


    private static HeaderOutcome PassOn(ConnectionContext context, in ReadResult read) =>
        read.IsCompleted || context.ConnectionClosed.IsCancellationRequested ? HeaderOutcome.PassOnAfterFin : HeaderOutcome.PassOn;

    private enum HeaderOutcome
    {
        /// <summary>Closed without writing: invalid, timed out, untrusted, or closed before a complete header.</summary>
        Rejected,

        /// <summary>A header was accepted (or, in Optional mode, there is none): on to the next middleware.</summary>
        PassOn,

        /// <summary>As <see cref="PassOn"/>, and the client has already half-closed.</summary>
        PassOnAfterFin,
    }
}
