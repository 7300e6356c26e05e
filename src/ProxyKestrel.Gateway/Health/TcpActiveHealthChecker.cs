using System.Buffers;
using System.Net;
using System.Net.Sockets;
using System.Text;
using System.Text.RegularExpressions;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using ProxyKestrel.Gateway.Configuration;
using ProxyKestrel.Gateway.Routing;
using Yarp.ReverseProxy;
using Yarp.ReverseProxy.Health;
using Yarp.ReverseProxy.Model;

namespace ProxyKestrel.Gateway.Health;

/// <summary>
/// Runs the active TCP health checks (<see cref="TcpHealthCheckOptions"/>) of every cluster that enables them and
/// reports each destination's state to YARP's health state (<see cref="IDestinationHealthUpdater.SetActive"/>), which
/// the gateway's destination choice honours.
/// </summary>
internal sealed partial class TcpActiveHealthChecker : BackgroundService
{
    private static readonly TimeSpan Tick = TimeSpan.FromMilliseconds(100);
    private readonly IProxyStateLookup _clusters;
    private readonly IDestinationHealthUpdater _healthUpdater;
    private readonly TimeProvider _timeProvider;
    private readonly ILogger _logger;
    private readonly Dictionary<(string Cluster, string Destination), ProbeState> _states = [];

    public TcpActiveHealthChecker(IProxyStateLookup clusters, IDestinationHealthUpdater healthUpdater, TimeProvider timeProvider, ILogger logger)
    {
        _clusters = clusters;
        _healthUpdater = healthUpdater;
        _timeProvider = timeProvider;
        _logger = logger;
    }

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        using var timer = new PeriodicTimer(Tick, _timeProvider);
        try
        {
            do
            {
                StartDueProbes(stoppingToken);
            }
            while (await timer.WaitForNextTickAsync(stoppingToken).ConfigureAwait(false));
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
            // Shutting down.
        }
    }

    private void StartDueProbes(CancellationToken stoppingToken)
    {
        long now = _timeProvider.GetTimestamp();
        foreach (ClusterState cluster in _clusters.GetClusters())
        {
            TcpHealthCheckOptions options = TcpHealthCheckOptions.Read(cluster.Model.Config, []);
            if (!options.Enabled)
            {
                continue;
            }

            ClusterProxyProtocol protocol = ClusterProxyProtocol.Read(cluster.Model.Config, []);
            foreach (DestinationState destination in cluster.DestinationsState.AllDestinations)
            {
                var key = (cluster.ClusterId, destination.DestinationId);
                if (!_states.TryGetValue(key, out ProbeState? state))
                {
                    state = new ProbeState();
                    _states[key] = state;
                }

                if (state.Running || (state.LastStart != 0 && _timeProvider.GetElapsedTime(state.LastStart, now) < options.Interval))
                {
                    continue;
                }

                state.Running = true;
                state.LastStart = now;
                _ = RunProbeAsync(cluster, destination, options, protocol, state, stoppingToken);
            }
        }
    }

    /// <summary>
    /// One check of <paramref name="destination"/> and its report. Whatever happens (an unexpected exception in the
    /// check or in the report included), the probe is marked not running again, so the destination is checked again
    /// at its next interval.
    /// </summary>
    private async Task RunProbeAsync(ClusterState cluster, DestinationState destination, TcpHealthCheckOptions options, ClusterProxyProtocol protocol, ProbeState state, CancellationToken stoppingToken)
    {
        try
        {
            string? failure;
            try
            {
                failure = await ProbeAsync(destination.Model.Config.Address, options, protocol, stoppingToken).ConfigureAwait(false);
            }
            catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
            {
                return;
            }
            catch (Exception e)
            {
                // Not one of the network failures ProbeAsync expects: still a failed check, logged with its exception.
                LogProbeError(_logger, cluster.ClusterId, destination.DestinationId, e);
                failure = $"{e.GetType().Name}: {e.Message}";
            }

            DestinationHealth? change = state.Record(failure is null, options);
            if (failure is not null)
            {
                LogProbeFailed(_logger, cluster.ClusterId, destination.DestinationId, failure);
            }

            if (change is { } health)
            {
                LogHealthChanged(_logger, cluster.ClusterId, destination.DestinationId, health);
                _healthUpdater.SetActive(cluster, [new NewActiveDestinationHealth(destination, health)]);
            }
        }
        catch (Exception e)
        {
            // The report failed (e.g. the health updater threw): YARP may not know the new health, so start over;
            // the next check reports again.
            state.Forget();
            LogProbeError(_logger, cluster.ClusterId, destination.DestinationId, e);
        }
        finally
        {
            state.Running = false;
        }
    }

    /// <summary>One check; returns null on success or why it failed.</summary>
    private async Task<string?> ProbeAsync(string address, TcpHealthCheckOptions options, ClusterProxyProtocol protocol, CancellationToken stoppingToken)
    {
        using var timeout = new CancellationTokenSource(options.Timeout, _timeProvider);
        using var linked = CancellationTokenSource.CreateLinkedTokenSource(timeout.Token, stoppingToken);
        if (Udp.UdpDestination.IsUdp(address))
        {
            return await ProbeUdpAsync(address, options, protocol, timeout, linked.Token, stoppingToken).ConfigureAwait(false);
        }

        using var socket = new Socket(SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
        try
        {
            await socket.ConnectAsync(DestinationConnector.ParseAddress(address), linked.Token).ConfigureAwait(false);
            if (protocol.Version is { } version)
            {
                byte[] header = new byte[ProxyHeaderWriter.V1MaxLength];
                int length = version == ProxyProtocolVersion.V2
                    ? ProxyV2HeaderWriter.Local(header).Complete()
                    : WriteV1(header, socket);
                await socket.SendAsync(header.AsMemory(0, length), SocketFlags.None, linked.Token).ConfigureAwait(false);
            }

            if (options.Request is { Length: > 0 } request)
            {
                await socket.SendAsync(Encoding.UTF8.GetBytes(request), SocketFlags.None, linked.Token).ConfigureAwait(false);
            }

            if (options.Expect is { Length: > 0 } expect)
            {
                string line = await ReadLineAsync(socket, linked.Token).ConfigureAwait(false);
                if (!line.StartsWith(expect, StringComparison.Ordinal))
                {
                    return $"expected '{expect}', got '{line}'";
                }
            }

            if (options.Send is { Length: > 0 } send)
            {
                await socket.SendAsync(Encoding.UTF8.GetBytes(send), SocketFlags.None, linked.Token).ConfigureAwait(false);
            }

            socket.Shutdown(SocketShutdown.Both);
            return null;
        }
        catch (OperationCanceledException) when (timeout.IsCancellationRequested && !stoppingToken.IsCancellationRequested)
        {
            return $"no answer within {options.Timeout:c}";
        }
        catch (Exception e) when (e is SocketException or FormatException or IOException)
        {
            return e.Message;
        }
    }

    /// <summary>
    /// One check of a UDP destination: one datagram, the v2 LOCAL header (when the cluster sends v2) followed by the
    /// request bytes, and one reply within the timeout that starts with the expected bytes (any reply when none are
    /// given). An ICMP unreachable fails it at once. Request and Expect are bytes: each character one byte (<c>\xNN</c>).
    /// </summary>
    private static async Task<string?> ProbeUdpAsync(string address, TcpHealthCheckOptions options, ClusterProxyProtocol protocol, CancellationTokenSource timeout, CancellationToken token, CancellationToken stoppingToken)
    {
        try
        {
            if (!Udp.UdpDestination.TryParse(address, out EndPoint? endPoint))
            {
                return $"'{address}' is not a UDP destination";
            }

            if (endPoint is DnsEndPoint name)
            {
                IPAddress[] addresses = await Dns.GetHostAddressesAsync(name.Host, token).ConfigureAwait(false);
                endPoint = new IPEndPoint(addresses[0], name.Port);
            }

            using var socket = new Socket(endPoint.AddressFamily, SocketType.Dgram, ProtocolType.Udp);
            await socket.ConnectAsync(endPoint, token).ConfigureAwait(false);
            byte[] request = Encoding.Latin1.GetBytes(options.Request ?? string.Empty);
            byte[] datagram = new byte[ProxyHeaderParser.V2FixedLength + request.Length];
            int length = protocol.Version == ProxyProtocolVersion.V2 ? ProxyV2HeaderWriter.Local(datagram).Complete() : 0;
            request.CopyTo(datagram, length);
            await socket.SendAsync(datagram.AsMemory(0, length + request.Length), SocketFlags.None, token).ConfigureAwait(false);
            byte[] reply = new byte[65_535];
            int received = await socket.ReceiveAsync(reply, SocketFlags.None, token).ConfigureAwait(false);
            if (options.Expect is { Length: > 0 } expect)
            {
                byte[] expected = Encoding.Latin1.GetBytes(Regex.Unescape(expect));
                if (!reply.AsSpan(0, received).StartsWith(expected))
                {
                    return $"expected a reply starting with '{expect}', got {received} bytes starting with {Convert.ToHexString(reply, 0, Math.Min(received, 16))}";
                }
            }

            return null;
        }
        catch (OperationCanceledException) when (timeout.IsCancellationRequested && !stoppingToken.IsCancellationRequested)
        {
            return $"no answer within {options.Timeout:c}";
        }
        catch (Exception e) when (e is SocketException or ArgumentException or IndexOutOfRangeException)
        {
            return e.Message;
        }
    }

    private static int WriteV1(byte[] header, Socket socket) =>
        socket.LocalEndPoint is IPEndPoint local && socket.RemoteEndPoint is IPEndPoint remote
            ? ProxyHeaderWriter.WriteV1(header, local, remote)
            : ProxyHeaderWriter.WriteV1Unknown(header);

    private static async Task<string> ReadLineAsync(Socket socket, CancellationToken cancellationToken)
    {
        byte[] buffer = ArrayPool<byte>.Shared.Rent(1024);
        try
        {
            int filled = 0;
            while (filled < 1024)
            {
                int n = await socket.ReceiveAsync(buffer.AsMemory(filled, 1024 - filled), SocketFlags.None, cancellationToken).ConfigureAwait(false);
                if (n == 0)
                {
                    break;
                }

                filled += n;
                int newline = Array.IndexOf(buffer, (byte)'\n', 0, filled);
                if (newline >= 0)
                {
                    return Encoding.UTF8.GetString(buffer, 0, newline).TrimEnd('\r');
                }
            }

            return Encoding.UTF8.GetString(buffer, 0, filled);
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(buffer);
        }
    }

    [LoggerMessage(EventId = 120, EventName = "HealthProbeFailed", Level = LogLevel.Debug,
        Message = "TCP health check of {ClusterId}/{DestinationId} failed: {Reason}.")]
    private static partial void LogProbeFailed(ILogger logger, string clusterId, string destinationId, string reason);

    [LoggerMessage(EventId = 121, EventName = "HealthChanged", Level = LogLevel.Information,
        Message = "TCP health check: destination {ClusterId}/{DestinationId} is now {Health}.")]
    private static partial void LogHealthChanged(ILogger logger, string clusterId, string destinationId, DestinationHealth health);

    [LoggerMessage(EventId = 122, EventName = "HealthProbeError", Level = LogLevel.Error,
        Message = "TCP health check of {ClusterId}/{DestinationId} failed unexpectedly; the destination is checked again at its next interval.")]
    private static partial void LogProbeError(ILogger logger, string clusterId, string destinationId, Exception exception);

    private sealed class ProbeState
    {
        private int _successes;
        private int _failures;

        private volatile bool _running;

        public bool Running
        {
            get => _running;
            set => _running = value;
        }

        public long LastStart { get; set; }

        public DestinationHealth Health { get; private set; } = DestinationHealth.Unknown;

        /// <summary>Forgets the counts and the health (as if never checked): the next result is reported again.</summary>
        public void Forget()
        {
            _successes = 0;
            _failures = 0;
            Health = DestinationHealth.Unknown;
        }

        /// <summary>Counts the result; returns the new health when it changes.</summary>
        public DestinationHealth? Record(bool success, TcpHealthCheckOptions options)
        {
            if (success)
            {
                _successes++;
                _failures = 0;
                if (Health != DestinationHealth.Healthy && (_successes >= options.Rise || Health == DestinationHealth.Unknown))
                {
                    Health = DestinationHealth.Healthy;
                    return Health;
                }
            }
            else
            {
                _failures++;
                _successes = 0;
                if (Health != DestinationHealth.Unhealthy && _failures >= options.Fall)
                {
                    Health = DestinationHealth.Unhealthy;
                    return Health;
                }
            }

            return null;
        }
    }
}
