using System.Net;
using System.Net.Sockets;

namespace ProxyKestrel.Gateway.Lifecycle;

/// <summary>
/// A destination's DNS name looked up, as both transports report it: the addresses, or the failure counted and logged
/// (<c>HostNotFound</c> for a name without an address, <c>bad_address</c> for one DNS cannot look up).
/// </summary>
internal static class DnsLookup
{
    /// <exception cref="OperationCanceledException"><paramref name="cancellationToken"/> was cancelled.</exception>
    public static async Task<ConnectResult> ResolveAsync(string host, CancellationToken cancellationToken)
    {
        try
        {
            IPAddress[] addresses = await Dns.GetHostAddressesAsync(host, cancellationToken).ConfigureAwait(false);
            return addresses.Length > 0
                ? new ConnectResult(ConnectStatus.Connected, Addresses: addresses)
                : ConnectResult.Failed(nameof(SocketError.HostNotFound), $"'{host}' has no address");
        }
        catch (SocketException e)
        {
            return ConnectResult.Failed(nameof(SocketError.HostNotFound), e.Message);
        }
        catch (ArgumentException e)
        {
            // Not a name DNS can look up (e.g. longer than 255 characters).
            return ConnectResult.Failed("bad_address", e.Message);
        }
    }
}
