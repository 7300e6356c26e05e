using System.Buffers;
using System.Net;
using System.Security.Cryptography.X509Certificates;
using Microsoft.AspNetCore.Http;
using ProxyKestrel.Gateway.Configuration;
using ProxyKestrel.Gateway.Diagnostics;
using ProxyKestrel.Gateway.Mail;
using ProxyKestrel.Gateway.Routing;
using Yarp.ReverseProxy.Model;

namespace ProxyKestrel.Gateway.Lifecycle;

/// <summary>
/// The mail front of <see cref="TcpConnectionLifecycle"/>, for a route with <c>Protocol</c> Imap, Pop3 or Smtp: the
/// gateway greets the client itself (after the TLS handshake for implicit TLS), answers it until it logs in (STARTTLS
/// included), picks the backend for the user (<see cref="MailBackendChooser"/>: <c>AuthHttp</c>, an
/// <see cref="IMailBackendSelector"/>, <c>Users</c>, <c>ClusterId</c>), connects to it with failover, sends the PROXY
/// header, replays the login, passes the backend's answer on, and then relays as every route does. A refused login,
/// or a backend that is down, is answered in the protocol and the client may try again (at most
/// <see cref="MaxLoginAttempts"/> times). It runs on the connection's stream I/O (<see cref="IStreamConnectionIo"/>), on
/// both transports alike; it is a mail connection's only state machine besides the relay's.
/// </summary>
internal sealed partial class TcpConnectionLifecycle
{
    /// <summary>Logins one connection may try before it is closed.</summary>
    public const int MaxLoginAttempts = 3;

    /// <summary>The mail front's run; the connection's end is its own (<c>end</c> in <c>finally</c>, null once relaying).</summary>
    private async Task MailAsync(IStreamConnectionIo io, TcpRoute route, TcpConnectionRecord record, EndPoint? client, EndPoint? dialled, int skip)
    {
        TcpConnectionEnd? end = TcpConnectionEnd.LoginAbandoned;
        TcpRouteConfig config = route.Config;
        MailProtocol protocol = MailFront.ProtocolOf(config.Protocol);
        var reply = new ArrayBufferWriter<byte>(512);
        try
        {
            io.Consume(skip);
            TimeSpan loginTimeout = config.LoginTimeout ?? TcpRouteConfig.DefaultLoginTimeout;
            long loginDeadline = Deadline(record, loginTimeout);
            X509Certificate2? certificate = route.MailCertificate;
            if (config.Tls is { Implicit: true } && await io.StartTlsAsync(certificate!, keepReceived: true, loginDeadline).ConfigureAwait(false) is { } tlsFailed)
            {
                MailFrontLog.TlsFailed(_logger, route.RouteId, client, tlsFailed);
                end = TcpConnectionEnd.TlsFailed;
                return;
            }

            MailClientDialogue dialogue = MailClientDialogue.Create(protocol, new MailDialogueOptions
            {
                ServerName = config.ServerName ?? TcpRouteConfig.DefaultServerName,
                TlsAvailable = certificate is not null,
                TlsActive = io.TlsActive,
                AllowPlaintextLogin = config.AllowPlaintextLogin,
                MaxLineLength = config.MaxLineLength ?? TcpRouteConfig.DefaultMaxLineLength,
            });
            dialogue.WriteGreeting(reply);
            bool clientEnded = false;
            for (int attempt = 1; ; attempt++)
            {
                // 1. The login (STARTTLS on the way).
                MailLogin? login;
                while (true)
                {
                    ReadOnlySequence<byte> input = io.Received;
                    long before = input.Length;
                    MailClientStep step = dialogue.Process(ref input, clientEnded, reply, out login);
                    io.Consume(before - input.Length);
                    // Every reply out before the next wait (STARTTLS's go-ahead before the handshake).
                    if (!await FlushAsync(io, reply, loginDeadline).ConfigureAwait(false))
                    {
                        return;
                    }

                    if (step == MailClientStep.Login)
                    {
                        break;
                    }

                    if (step == MailClientStep.Close)
                    {
                        // A quit (or a client gone) before any login is abandoned; after refused logins, or for breaking
                        // the protocol's rules, failed.
                        end = attempt > 1 || dialogue.ClosedForViolation ? TcpConnectionEnd.LoginFailed : TcpConnectionEnd.LoginAbandoned;
                        return;
                    }

                    if (step == MailClientStep.StartTls)
                    {
                        if (await io.StartTlsAsync(certificate!, keepReceived: false, loginDeadline).ConfigureAwait(false) is { } failed)
                        {
                            MailFrontLog.TlsFailed(_logger, route.RouteId, client, failed);
                            end = TcpConnectionEnd.TlsFailed;
                            return;
                        }

                        dialogue.TlsStarted();
                        continue;
                    }

                    ReceiveStatus status = Stepped(record, await io.ReceiveAsync(loginDeadline).ConfigureAwait(false));
                    if (status == ReceiveStatus.Killed)
                    {
                        end = TcpConnectionEnd.Killed;
                        return;
                    }

                    if (status == ReceiveStatus.TimedOut)
                    {
                        MailFrontLog.LoginTimeout(_logger, route.RouteId, client, loginTimeout);
                        end = TcpConnectionEnd.LoginTimeout;
                        return;
                    }

                    clientEnded = status is ReceiveStatus.Ended or ReceiveStatus.Reset or ReceiveStatus.Full;
                }

                // 2. The backend for the user.
                using var choosing = new CancellationTokenSource(BackendTimeLeft(loginDeadline), _time);
                MailBackendSelection choice = await _mailBackends!.ChooseAsync(config, login!, client as IPEndPoint, attempt, choosing.Token).ConfigureAwait(false);
                string? refusal = choice.Error;
                bool temporary = choice.Temporary;
                TcpConnectionEnd failure = TcpConnectionEnd.LoginFailed;
                if (refusal is null)
                {
                    (refusal, failure) = await ConnectAndLogInAsync(io, route, record, client, dialled, login!, choice, attempt, reply, loginDeadline).ConfigureAwait(false);
                    if (refusal is null)
                    {
                        end = null;
                        return;
                    }

                    if (failure is TcpConnectionEnd.Killed or TcpConnectionEnd.ClientAborted)
                    {
                        end = failure;
                        return;
                    }

                    // A refusal the backend wrote itself is already in the reply.
                    temporary = failure != TcpConnectionEnd.LoginFailed;
                }
                else
                {
                    MailFrontLog.LoginRefused(_logger, route.RouteId, login!, client, temporary ? "temporary" : "rejected", refusal);
                }

                // 3. Refused: after the delay, the protocol's answer; the client may try again.
                TimeSpan delay = choice.Wait ?? config.FailedLoginDelay ?? TcpRouteConfig.DefaultFailedLoginDelay;
                if (delay > TimeSpan.Zero)
                {
                    await Task.Delay(delay, _time).ConfigureAwait(false);
                }

                if (refusal.Length > 0)
                {
                    if (temporary)
                    {
                        dialogue.WriteTemporaryFailure(reply, login!, refusal, choice.ErrorCode);
                    }
                    else
                    {
                        dialogue.WriteLoginRejected(reply, login!, refusal, choice.ErrorCode);
                    }
                }
                else
                {
                    dialogue.LoginAnswered();
                }

                if (attempt >= MaxLoginAttempts)
                {
                    await FlushAsync(io, reply, loginDeadline).ConfigureAwait(false);
                    end = failure;
                    return;
                }
            }
        }
        catch (Exception e) when (e is not OutOfMemoryException)
        {
            // A bug must end this connection only.
            TcpProxyLog.ConnectionFailed(_logger, record.RouteId, record.Client, e);
            end = record.Phase == TcpConnectionPhase.Data ? null : TcpConnectionEnd.ClientAborted;
        }
        finally
        {
            if (end is { } ended)
            {
                record.End = ended;
                Finish(io, route, record);
            }
        }
    }

    /// <summary>
    /// Connects to the chosen backend (a cluster's destinations with failover, or the one server <c>AuthHttp</c> named),
    /// sends the PROXY header, replays the login and, when the backend accepts it, passes its answer on and starts the
    /// relay: (null, _). Otherwise the refusal's text for the client ("" when the backend's own answer is already in
    /// <paramref name="reply"/>) and the end the connection has if it is the last attempt.
    /// </summary>
    private async Task<(string? Refusal, TcpConnectionEnd Failure)> ConnectAndLogInAsync(
        IStreamConnectionIo io, TcpRoute route, TcpConnectionRecord record, EndPoint? client, EndPoint? dialled, MailLogin login,
        MailBackendSelection choice, int attempt, ArrayBufferWriter<byte> reply, long loginDeadline)
    {
        string clusterId = choice.ClusterId ?? route.Config.ClusterId;
        record.ClusterId = clusterId;
        if (!_clusters.TryGetCluster(clusterId, out ClusterState? cluster))
        {
            TcpProxyLog.NoDestination(_logger, route.RouteId, clusterId, client);
            return (MailFront.TemporaryFailureText, TcpConnectionEnd.NoCluster);
        }

        // a. The destination: the named server, or the cluster's with failover.
        record.Phase = TcpConnectionPhase.Connect;
        long connectStarted = _time.GetTimestamp();
        DestinationState? destination = null;
        TcpConnectionEnd failure = TcpConnectionEnd.ConnectFailed;
        if (choice.Server is { } server)
        {
            record.Destination = server.ToString();
            ConnectResult result = Stepped(record, await io.ConnectAsync(server, Deadline(record, route.Config.ConnectTimeout)).ConfigureAwait(false));
            if (result.Status == ConnectStatus.Connected)
            {
                destination = new DestinationState(server.ToString());
            }
            else
            {
                failure = result.Status switch { ConnectStatus.Killed => TcpConnectionEnd.Killed, ConnectStatus.TimedOut => TcpConnectionEnd.ConnectTimeout, _ => failure };
                TcpProxyLog.DestinationConnectFailed(_logger, route.RouteId, server.ToString(), server.ToString(), clusterId, result.Reason ?? result.Status.ToString());
            }
        }
        else
        {
            List<DestinationState> candidates = DestinationConnector.Candidates(cluster);
            HttpContext? policyContext = null;
            while ((destination = NextDestination(route, cluster, candidates, ref policyContext, record, out EndPoint? endPoint)) is not null)
            {
                long deadline = Deadline(record, route.Config.ConnectTimeout);
                ConnectResult result = endPoint is IPEndPoint ip
                    ? await io.ConnectAsync(ip, deadline).ConfigureAwait(false)
                    : await io.ResolveAsync(((DnsEndPoint)endPoint!).Host, deadline).ConfigureAwait(false);
                if (endPoint is DnsEndPoint named && result.Status == ConnectStatus.Connected)
                {
                    foreach (IPAddress address in result.Addresses!)
                    {
                        result = await io.ConnectAsync(new IPEndPoint(address, named.Port), deadline).ConfigureAwait(false);
                        if (result.Status != ConnectStatus.Failed)
                        {
                            break;
                        }
                    }
                }

                Stepped(record, result);
                if (result.Status == ConnectStatus.Connected)
                {
                    break;
                }

                if (result.Status == ConnectStatus.Killed)
                {
                    return ("", TcpConnectionEnd.Killed);
                }

                failure = AttemptFailed(route, cluster, destination, result);
            }
        }

        if (destination is null)
        {
            if (failure != TcpConnectionEnd.Killed)
            {
                TcpProxyLog.NoDestination(_logger, route.RouteId, clusterId, client);
            }

            return (failure == TcpConnectionEnd.Killed ? "" : MailFront.TemporaryFailureText, failure);
        }

        record.ConnectMs = (long)_time.GetElapsedTime(connectStarted).TotalMilliseconds;
        string backendName = destination.DestinationId;
        MailFrontLog.LoginRouted(_logger, route.RouteId, login, client, $"{clusterId}/{backendName}", attempt);

        // b. The PROXY header, then the login replayed; the backend's answer to the client.
        ClusterProxyProtocol proxyProtocol = TcpConnectionSteps.ProtocolOf(cluster);
        byte[]? header = null;
        try
        {
            if (proxyProtocol.Version is { } version)
            {
                string uniqueId = ProxyHeaderBuilder.WritesUniqueId(proxyProtocol) ? io.ConnectionId : string.Empty;
                int headerLength = ProxyHeaderBuilder.Build(proxyProtocol, client, dialled ?? io.LocalEndPoint, default, false, null, uniqueId, out header);
                record.ProxyVersion = version == ProxyProtocolVersion.V1 ? "v1" : "v2";
                if (!await io.SendToBackendAsync(header.AsMemory(0, headerLength), loginDeadline).ConfigureAwait(false))
                {
                    return BackendFailed(io, route, login, backendName, "the backend closed the connection before the PROXY header was sent");
                }
            }
        }
        finally
        {
            if (header is not null)
            {
                ArrayPool<byte>.Shared.Return(header);
            }
        }

        MailBackendLogin replay = MailBackendLogin.Create(login, route.Config.ServerName ?? TcpRouteConfig.DefaultServerName);
        var toBackend = new ArrayBufferWriter<byte>(256);
        while (true)
        {
            ReadOnlySequence<byte> fromBackend = io.BackendReceived;
            long before = fromBackend.Length;
            MailBackendStep step = replay.Process(ref fromBackend, toBackend, reply, out string? reason);
            io.ConsumeBackend(before - fromBackend.Length);
            if (toBackend.WrittenCount > 0)
            {
                bool sent = await io.SendToBackendAsync(toBackend.WrittenMemory, loginDeadline).ConfigureAwait(false);
                toBackend.ResetWrittenCount();
                if (!sent)
                {
                    return BackendFailed(io, route, login, backendName, "sending the login to the backend failed");
                }
            }

            switch (step)
            {
                case MailBackendStep.LoggedIn:
                    if (!await FlushAsync(io, reply, loginDeadline).ConfigureAwait(false))
                    {
                        io.CloseBackend();
                        return ("", TcpConnectionEnd.ClientAborted);
                    }

                    StartMailRelay(io, route, record, client, cluster, destination);
                    return (null, TcpConnectionEnd.Completed);
                case MailBackendStep.Rejected:
                    // The backend's own answer is in the reply; the connection to it is done.
                    io.CloseBackend();
                    MailFrontLog.LoginRefused(_logger, route.RouteId, login, client, "rejected by the backend", backendName);
                    record.Phase = TcpConnectionPhase.Request;
                    return ("", TcpConnectionEnd.LoginFailed);
                case MailBackendStep.Failed:
                    return BackendFailed(io, route, login, backendName, reason ?? "an unexpected answer");
            }

            ReceiveStatus status = Stepped(record, await io.ReceiveFromBackendAsync(loginDeadline).ConfigureAwait(false));
            if (status == ReceiveStatus.Killed)
            {
                io.CloseBackend();
                return ("", TcpConnectionEnd.Killed);
            }

            if (status != ReceiveStatus.Received)
            {
                return BackendFailed(io, route, login, backendName, status == ReceiveStatus.TimedOut ? "no answer within LoginTimeout" : "the backend closed the connection during the login");
            }
        }
    }

    /// <summary>The backend failed during the login: closed, logged, and the client gets the protocol's temporary failure.</summary>
    private (string Refusal, TcpConnectionEnd Failure) BackendFailed(IStreamConnectionIo io, TcpRoute route, MailLogin login, string backend, string reason)
    {
        io.CloseBackend();
        MailFrontLog.BackendLoginFailed(_logger, route.RouteId, login, backend, reason);
        return (MailFront.TemporaryFailureText, TcpConnectionEnd.ServerAborted);
    }

    /// <summary>Logged in: the relay, as every route's (its end finishes the connection).</summary>
    private void StartMailRelay(IStreamConnectionIo io, TcpRoute route, TcpConnectionRecord record, EndPoint? client, ClusterState cluster, DestinationState destination)
    {
        var relaying = new RelayingConnection(this, io, route, record, client, destination, _counts.Cluster(cluster.ClusterId), null);
        record.Phase = TcpConnectionPhase.Data;
        try
        {
            io.StartRelay(ReadOnlyMemory<byte>.Empty, 0, route.Config.ClientIdleTimeout, route.Config.ServerIdleTimeout, relaying);
        }
        catch (Exception e) when (e is not OutOfMemoryException)
        {
            TcpProxyLog.ConnectionFailed(_logger, route.RouteId, client, e);
            relaying.RelayEnded(new RelayResult(RelayEnd.ClientAborted, 0, 0));
        }
    }

    /// <summary>Sends what <paramref name="reply"/> holds to the client and empties it; false when the client is gone.</summary>
    private static async ValueTask<bool> FlushAsync(IStreamConnectionIo io, ArrayBufferWriter<byte> reply, long deadline)
    {
        if (reply.WrittenCount == 0)
        {
            return true;
        }

        bool sent = await io.SendToClientAsync(reply.WrittenMemory, deadline).ConfigureAwait(false);
        reply.ResetWrittenCount();
        return sent;
    }

    /// <summary>The time left of the login for choosing a backend (at least a second: the auth server gets its answer in).</summary>
    private TimeSpan BackendTimeLeft(long loginDeadline)
    {
        long left = loginDeadline == long.MaxValue ? long.MaxValue : loginDeadline - _time.GetTimestamp();
        return left == long.MaxValue ? Timeout.InfiniteTimeSpan : TimeSpan.FromSeconds(Math.Max(1, (double)left / _time.TimestampFrequency));
    }
}
