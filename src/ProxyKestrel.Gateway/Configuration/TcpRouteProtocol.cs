namespace ProxyKestrel.Gateway.Configuration;

/// <summary>
/// What a route does with its connections (<see cref="TcpRouteConfig.Protocol"/>): relay the bytes, or speak a mail
/// protocol to the client itself (its mail front), read the login and choose the backend from it.
/// </summary>
public enum TcpRouteProtocol
{
    /// <summary>Relay the client's bytes to a destination of the route's cluster, after the PROXY header (the default).</summary>
    Tcp,

    /// <summary>Greet the client as an IMAP server, read its login, then relay to the backend chosen for that user.</summary>
    Imap,

    /// <summary>Greet the client as a POP3 server, read its login, then relay to the backend chosen for that user.</summary>
    Pop3,

    /// <summary>Greet the client as an SMTP submission server, read its AUTH, then relay to the backend chosen for that user.</summary>
    Smtp,
}
