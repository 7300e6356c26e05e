using System.Net;

namespace ProxyKestrel.Gateway.Lifecycle;

/// <summary>
/// The result of <see cref="ITcpConnectionIo.ConnectAsync"/> or <see cref="ITcpConnectionIo.ResolveAsync"/>: on
/// <see cref="ConnectStatus.Failed"/>, the error type counted in the metrics (a <c>SocketError</c> name) and the reason
/// logged; the addresses of a resolved name.
/// </summary>
internal readonly record struct ConnectResult(ConnectStatus Status, string? ErrorType = null, string? Reason = null, IPAddress[]? Addresses = null)
{
    public static ConnectResult Connected => new(ConnectStatus.Connected);

    public static ConnectResult TimedOut => new(ConnectStatus.TimedOut);

    public static ConnectResult Killed => new(ConnectStatus.Killed);

    public static ConnectResult Failed(string errorType, string reason) => new(ConnectStatus.Failed, errorType, reason);
}
