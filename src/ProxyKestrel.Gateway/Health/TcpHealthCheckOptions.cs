using System.Globalization;
using System.Text.RegularExpressions;
using Yarp.ReverseProxy.Configuration;

namespace ProxyKestrel.Gateway.Health;

/// <summary>
/// Active TCP health checks of a cluster, from its YARP <c>Metadata</c> (<c>TcpHealthCheck.*</c> keys), separate from
/// YARP's own HTTP <c>HealthCheck:Active</c> probes so the two never collide. A check connects, sends the PROXY header
/// the cluster's backends require (v2 LOCAL, or a v1 header with the check's own addresses, as HAProxy's
/// <c>check-send-proxy</c> does), optionally sends <see cref="Request"/>, expects a reply starting with
/// <see cref="Expect"/>, then sends <see cref="Send"/> (for SMTP: expect <c>220</c>, send <c>QUIT\r\n</c>).
/// </summary>
public sealed record TcpHealthCheckOptions
{
    /// <summary>Metadata key prefix.</summary>
    public const string Prefix = "TcpHealthCheck.";

    /// <summary>Whether checks run (<c>TcpHealthCheck.Enabled</c>: true/false).</summary>
    public bool Enabled { get; init; }

    /// <summary>Time between checks of a destination (<c>TcpHealthCheck.Interval</c>, default 00:00:10).</summary>
    public TimeSpan Interval { get; init; } = TimeSpan.FromSeconds(10);

    /// <summary>Time allowed for one check (<c>TcpHealthCheck.Timeout</c>, default 00:00:05).</summary>
    public TimeSpan Timeout { get; init; } = TimeSpan.FromSeconds(5);

    /// <summary>
    /// Bytes sent right after the header, before expecting (<c>TcpHealthCheck.Request</c>; <c>\r\n</c> escapes allowed).
    /// For a UDP destination the one datagram sent (required), each character one byte, e.g. a DNS query in <c>\xNN</c> escapes.
    /// </summary>
    public string? Request { get; init; }

    /// <summary>
    /// The first reply line must start with this (<c>TcpHealthCheck.Expect</c>, e.g. <c>220</c>). For a UDP destination
    /// the reply datagram must start with these bytes (<c>\xNN</c> escapes); without it any reply passes.
    /// </summary>
    public string? Expect { get; init; }

    /// <summary>Bytes sent after the expected reply (<c>TcpHealthCheck.Send</c>, e.g. <c>QUIT\r\n</c>).</summary>
    public string? Send { get; init; }

    /// <summary>Consecutive successes that make a destination healthy (<c>TcpHealthCheck.Rise</c>, default 2).</summary>
    public int Rise { get; init; } = 2;

    /// <summary>Consecutive failures that make a destination unhealthy (<c>TcpHealthCheck.Fall</c>, default 3).</summary>
    public int Fall { get; init; } = 3;

    /// <summary>Reads the options from <paramref name="cluster"/>'s metadata; problems go to <paramref name="errors"/>.</summary>
    internal static TcpHealthCheckOptions Read(ClusterConfig cluster, List<string> errors)
    {
        ArgumentNullException.ThrowIfNull(cluster);
        ArgumentNullException.ThrowIfNull(errors);
        var options = new TcpHealthCheckOptions();
        if (cluster.Metadata is null)
        {
            return options;
        }

        string at = $"ReverseProxy:Clusters:{cluster.ClusterId}:Metadata";
        foreach ((string key, string value) in cluster.Metadata)
        {
            if (!key.StartsWith(Prefix, StringComparison.OrdinalIgnoreCase))
            {
                continue;
            }

            string name = key[Prefix.Length..];
            string where = $"{at}:{key}";
            switch (name.ToUpperInvariant())
            {
                case "ENABLED":
                    if (bool.TryParse(value, out bool enabled))
                    {
                        options = options with { Enabled = enabled };
                    }
                    else
                    {
                        errors.Add($"{where}: '{value}' is not valid; allowed: true, false.");
                    }

                    break;
                case "INTERVAL":
                    options = options with { Interval = ReadTime(value, where, errors, options.Interval, TimeSpan.FromMilliseconds(100)) };
                    break;
                case "TIMEOUT":
                    options = options with { Timeout = ReadTime(value, where, errors, options.Timeout, TimeSpan.FromMilliseconds(10)) };
                    break;
                case "REQUEST":
                    options = options with { Request = Unescape(value, where, errors) };
                    break;
                case "EXPECT":
                    options = options with { Expect = value };
                    break;
                case "SEND":
                    options = options with { Send = Unescape(value, where, errors) };
                    break;
                case "RISE":
                    options = options with { Rise = ReadCount(value, where, errors, options.Rise) };
                    break;
                case "FALL":
                    options = options with { Fall = ReadCount(value, where, errors, options.Fall) };
                    break;
                default:
                    errors.Add($"{where}: unknown key; allowed: {Prefix}Enabled, Interval, Timeout, Request, Expect, Send, Rise, Fall.");
                    break;
            }
        }

        if (options.Enabled && cluster.Destinations is { Count: > 0 } destinations && destinations.Values.Any(d => Udp.UdpDestination.IsUdp(d.Address)))
        {
            if (string.IsNullOrEmpty(options.Request))
            {
                errors.Add($"{at}:{Prefix}Request: missing; a UDP destination is checked with a datagram: allowed: the request bytes, each \\xNN one byte (e.g. a DNS query).");
            }

            if (!string.IsNullOrEmpty(options.Send))
            {
                errors.Add($"{at}:{Prefix}Send: does not apply to UDP destinations (one datagram, one reply); remove it.");
            }

            if (options.Expect is { } expect)
            {
                // Compared as bytes: its escapes must be valid (reported by Unescape).
                _ = Unescape(expect, $"{at}:{Prefix}Expect", errors);
            }
        }

        return options;
    }

    private static TimeSpan ReadTime(string value, string where, List<string> errors, TimeSpan fallback, TimeSpan minimum)
    {
        if (TimeSpan.TryParse(value, CultureInfo.InvariantCulture, out TimeSpan time) && time >= minimum && time <= TimeSpan.FromHours(1))
        {
            return time;
        }

        errors.Add($"{where}: '{value}' is not valid; allowed: a time span from {minimum:c} to 01:00:00, e.g. 00:00:05.");
        return fallback;
    }

    private static int ReadCount(string value, string where, List<string> errors, int fallback)
    {
        if (int.TryParse(value, NumberStyles.None, CultureInfo.InvariantCulture, out int count) && count is >= 1 and <= 100)
        {
            return count;
        }

        errors.Add($"{where}: '{value}' is not valid; allowed: a whole number from 1 to 100.");
        return fallback;
    }

    private static string? Unescape(string value, string where, List<string> errors)
    {
        try
        {
            return Regex.Unescape(value);
        }
        catch (RegexParseException)
        {
            errors.Add($"{where}: '{value}' has an invalid escape; allowed: text with \\r, \\n, \\t escapes.");
            return null;
        }
    }
}
