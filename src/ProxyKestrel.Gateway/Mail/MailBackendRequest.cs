using System.Net;
using ProxyKestrel.Gateway.Configuration;

namespace ProxyKestrel.Gateway.Mail;

/// <summary>A mail login whose backend is to be chosen (<see cref="IMailBackendSelector"/>). It carries no password.</summary>
public sealed record MailBackendRequest
{
    /// <summary>The route the client connected to.</summary>
    public required string RouteId { get; init; }

    /// <summary>The protocol the client speaks: <see cref="TcpRouteProtocol.Imap"/>, <see cref="TcpRouteProtocol.Pop3"/> or <see cref="TcpRouteProtocol.Smtp"/>.</summary>
    public required TcpRouteProtocol Protocol { get; init; }

    /// <summary>The login name the client gave (SASL authentication identity, IMAP LOGIN / POP3 USER name).</summary>
    public required string User { get; init; }

    /// <summary>The client's address (the upstream PROXY header's when the route accepts one); null when unknown.</summary>
    public IPAddress? ClientAddress { get; init; }

    /// <summary>Which login of this connection it is, from 1 (a client may try again after a refusal).</summary>
    public int LoginAttempt { get; init; } = 1;
}
