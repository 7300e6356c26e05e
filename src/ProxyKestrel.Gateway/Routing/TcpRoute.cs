using System.Net;
using System.Security.Cryptography.X509Certificates;
using ProxyKestrel.Gateway.Mail;
using ProxyKestrel.Gateway.Configuration;

namespace ProxyKestrel.Gateway.Routing;

/// <summary>A validated route as used by new connections: its config, compiled client filter and header receiver.</summary>
internal sealed class TcpRoute
{
    private readonly IPNetworkSet? _allowedClients;
    private readonly TcpRouteCounter _counter;

    public TcpRoute(TcpRouteConfig config, ProxyProtocolReceiver? receiver, TcpRouteCounter counter)
    {
        Config = config;
        Receiver = receiver;
        _counter = counter;
        if (config.AllowedClients is { } allowed)
        {
            _allowedClients = IPNetworkSet.Create(allowed);
        }

        Matcher = config.Match is { } match ? new TcpRouteMatcher(match) : null;
        // Loaded once per route (validated at start-up and on reload): a mail route's certificate for its clients' TLS.
        MailCertificate = config.Tls is { } tls ? tls.LoadCertificate() : null;
    }

    /// <summary>The certificate a mail route (<c>Protocol</c> Imap, Pop3, Smtp) offers its clients; null without <c>Tls</c>.</summary>
    public X509Certificate2? MailCertificate { get; }

    public TcpRouteConfig Config { get; }

    public string RouteId => Config.RouteId;

    /// <summary>Reads the PROXY header clients send, when <c>AcceptProxyProtocol</c> is set.</summary>
    public ProxyProtocolReceiver? Receiver { get; }

    /// <summary>The route's <c>Match</c>; null for a listener's default route.</summary>
    public TcpRouteMatcher? Matcher { get; }

    public bool IsAllowed(EndPoint? client)
    {
        if (_allowedClients is null)
        {
            return true;
        }

        return client is IPEndPoint ip && _allowedClients.Contains(ip.Address);
    }

    /// <summary>The route id's open connections (old and new routes of a reload alike).</summary>
    public int Open => _counter.Open;

    /// <summary>Takes a connection slot; false when <c>MaxConnections</c> are already open.</summary>
    public bool TryEnter()
    {
        int limit = Config.MaxConnections ?? int.MaxValue;
        while (true)
        {
            int open = _counter.Open;
            if (open >= limit)
            {
                return false;
            }

            if (_counter.TryIncrement(open))
            {
                return true;
            }
        }
    }

    /// <summary>Gives back the slot <see cref="TryEnter"/> took.</summary>
    public void Exit() => _counter.Decrement();
}

/// <summary>Open connections of a route id, kept across reloads so <c>MaxConnections</c> counts old and new alike.</summary>
internal sealed class TcpRouteCounter
{
    private int _open;

    public int Open => Volatile.Read(ref _open);

    public bool TryIncrement(int expected) => Interlocked.CompareExchange(ref _open, expected + 1, expected) == expected;

    public void Decrement() => Interlocked.Decrement(ref _open);
}
