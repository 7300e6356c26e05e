using ProxyKestrel.Gateway.Configuration;

namespace ProxyKestrel.Gateway.Mail;

/// <summary>What the mail front's steps share: the protocol of a route, the text of a temporary failure.</summary>
internal static class MailFront
{
    /// <summary>The client's text when no backend can take the login now (a backend down, an auth server failing).</summary>
    public const string TemporaryFailureText = "Temporary failure, try again later";

    /// <summary>The dialogue's protocol for a mail route's <c>Protocol</c>.</summary>
    public static MailProtocol ProtocolOf(TcpRouteProtocol protocol) => protocol switch
    {
        TcpRouteProtocol.Imap => MailProtocol.Imap,
        TcpRouteProtocol.Pop3 => MailProtocol.Pop3,
        TcpRouteProtocol.Smtp => MailProtocol.Smtp,
        _ => throw new ArgumentOutOfRangeException(nameof(protocol), protocol, "Not a mail protocol."),
    };
}
