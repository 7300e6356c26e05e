using System.Diagnostics.CodeAnalysis;
using System.Net;
using System.Runtime.CompilerServices;
using Yarp.ReverseProxy.Configuration;

namespace ProxyKestrel.Gateway.Udp;

/// <summary>The address of a UDP cluster destination: <c>udp://HOST:PORT</c>, HOST an IP literal or a DNS name.</summary>
internal static class UdpDestination
{
    public const string Scheme = "udp";

    private static readonly ConditionalWeakTable<DestinationConfig, EndPoint> s_endPoints = new();

    /// <summary>Cached for an address that does not parse.</summary>
    private static readonly EndPoint s_invalid = new DnsEndPoint("invalid.", 1);

    /// <summary>True when <paramref name="address"/> names the UDP scheme (whether or not the rest is valid).</summary>
    public static bool IsUdp(string? address) =>
        address is not null && address.TrimStart().StartsWith(Scheme + "://", StringComparison.OrdinalIgnoreCase);

    /// <summary>Parses <c>udp://HOST:PORT</c> into an <see cref="IPEndPoint"/> or a <see cref="DnsEndPoint"/>.</summary>
    public static bool TryParse(string? address, [NotNullWhen(true)] out EndPoint? endPoint)
    {
        endPoint = null;
        if (!IsUdp(address)
            || !Uri.TryCreate(address!.Trim(), UriKind.Absolute, out Uri? uri)
            || uri.Port <= 0
            || uri.AbsolutePath is not ("" or "/")
            || uri.Query.Length > 0)
        {
            return false;
        }

        string host = uri.IdnHost.Trim('[', ']');
        endPoint = IPAddress.TryParse(host, out IPAddress? ip) ? new IPEndPoint(ip, uri.Port) : new DnsEndPoint(host, uri.Port);
        return true;
    }

    /// <summary>
    /// The destination's parsed address, parsed once per (immutable) destination config; false when it is not
    /// <c>udp://HOST:PORT</c> (refused by the validator, but a later change of the cluster alone can bring one).
    /// </summary>
    public static bool TryEndPointOf(DestinationConfig config, [NotNullWhen(true)] out EndPoint? endPoint)
    {
        endPoint = s_endPoints.GetValue(config, static c => TryParse(c.Address, out EndPoint? e) ? e : s_invalid);
        if (ReferenceEquals(endPoint, s_invalid))
        {
            endPoint = null;
            return false;
        }

        return true;
    }
}
