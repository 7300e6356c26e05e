using System.Net;
using System.Security.Cryptography.X509Certificates;
using System.Text.RegularExpressions;

namespace ProxyKestrel.Gateway.Configuration;

/// <summary>
/// Checks the mail keys of a route (<c>Protocol</c>, <c>Users</c>, <c>AuthHttp</c>, <c>Tls</c>, <c>AllowPlaintextLogin</c>,
/// <c>LoginTimeout</c>, <c>FailedLoginDelay</c>, <c>MaxLineLength</c>, <c>ServerName</c>), and that a mail route has its
/// <c>Listen</c> endpoints to itself.
/// </summary>
internal static class TcpMailRouteValidator
{
    /// <summary>The options every <see cref="TcpMailUserRule.Match"/> is compiled with.</summary>
    internal const RegexOptions UserRuleOptions = RegexOptions.IgnoreCase | RegexOptions.CultureInvariant;

    /// <summary>The match timeout of a <see cref="TcpMailUserRule.Match"/>, 100 ms.</summary>
    internal static readonly TimeSpan UserRuleTimeout = TimeSpan.FromMilliseconds(100);

    private const string MailOnly = "only for Protocol Imap, Pop3 or Smtp";

    /// <summary>Checks <paramref name="route"/>'s mail keys; <paramref name="clusterExists"/> (when given) checks each rule's cluster.</summary>
    public static void ValidateRoute(TcpRouteConfig route, string at, Func<string, bool>? clusterExists, List<string> errors)
    {
        if (!Enum.IsDefined(route.Protocol))
        {
            errors.Add($"{at}:Protocol: {(int)route.Protocol} is not a route protocol; allowed: {string.Join(", ", Enum.GetNames<TcpRouteProtocol>())}.");
            return;
        }

        if (!route.IsMail)
        {
            ReportMailKeysOnTcpRoute(route, at, errors);
            return;
        }

        if (route.Match is not null)
        {
            errors.Add($"{at}:Match: not for a mail route (Protocol {route.Protocol}): its server speaks first, so there is nothing to match on; allowed: no Match, and the route alone on its Listen endpoints.");
        }

        ValidateUsers(route, at, clusterExists, errors);
        ValidateAuthHttp(route, at, errors);
        if (route.Tls is { } tls)
        {
            ValidateTls(tls, $"{at}:Tls", errors);
        }

        if (route.LoginTimeout is { } login && (login <= TimeSpan.Zero || login > TimeSpan.FromHours(1)))
        {
            errors.Add($"{at}:LoginTimeout: {login:c} is out of range; allowed: more than 00:00:00, up to 01:00:00 (omit for {TcpRouteConfig.DefaultLoginTimeout:c}).");
        }

        if (route.FailedLoginDelay is { } delay && (delay < TimeSpan.Zero || delay > TimeSpan.FromMinutes(1)))
        {
            errors.Add($"{at}:FailedLoginDelay: {delay:c} is out of range; allowed: 00:00:00 to 00:01:00 (omit for {TcpRouteConfig.DefaultFailedLoginDelay:c}).");
        }

        if (route.MaxLineLength is { } line && (line < TcpRouteConfig.MinMaxLineLength || line > TcpRouteConfig.MaxMaxLineLength))
        {
            errors.Add($"{at}:MaxLineLength: {line} is out of range; allowed: {TcpRouteConfig.MinMaxLineLength} to {TcpRouteConfig.MaxMaxLineLength} (omit for {TcpRouteConfig.DefaultMaxLineLength}).");
        }

        if (route.ServerName is { } name && (name.Length is 0 or > 255 || name.Any(c => c is <= ' ' or > '~')))
        {
            errors.Add($"{at}:ServerName: '{name}' is not a greeting name; allowed: 1 to 255 printable ASCII characters without spaces, such as mail.example.com (omit for {TcpRouteConfig.DefaultServerName}).");
        }
    }

    /// <summary>
    /// The routes listening on <paramref name="endpoint"/> (two or more): each mail route among them is an error. Returns
    /// the routes that are not mail routes, whose sharing the match rules check.
    /// </summary>
    public static List<(TcpRouteConfig Route, string At)> ValidateSharedListener(IPEndPoint endpoint, List<(TcpRouteConfig Route, string At)> routes, List<string> errors)
    {
        var relayed = new List<(TcpRouteConfig Route, string At)>(routes.Count);
        foreach ((TcpRouteConfig route, string at) in routes)
        {
            if (!route.IsMail)
            {
                relayed.Add((route, at));
                continue;
            }

            string others = string.Join(", ", routes.Where(r => !ReferenceEquals(r.Route, route)).Select(r => $"'{r.Route.RouteId}'"));
            errors.Add($"{at}:Listen: {endpoint} is also an endpoint of route {others}; allowed: a mail route (Protocol {route.Protocol}) alone on each of its endpoints, as the mail server speaks first and there is nothing to choose a route by.");
        }

        return relayed;
    }

    /// <summary>Compiles a rule's pattern as the mail front does; null (and <paramref name="problem"/>) when it does not compile.</summary>
    internal static Regex? CompileUserRule(string? pattern, out string? problem)
    {
        problem = null;
        if (string.IsNullOrEmpty(pattern))
        {
            problem = "missing";
            return null;
        }

        try
        {
            return new Regex(pattern, UserRuleOptions, UserRuleTimeout);
        }
        catch (ArgumentException e)
        {
            problem = e.Message;
            return null;
        }
    }

    private static void ReportMailKeysOnTcpRoute(TcpRouteConfig route, string at, List<string> errors)
    {
        void Report(bool set, string key)
        {
            if (set)
            {
                errors.Add($"{at}:{key}: {MailOnly}; allowed: set Protocol to one of them, or remove {key} from this Tcp route.");
            }
        }

        Report(route.Users is not null, nameof(TcpRouteConfig.Users));
        Report(route.AuthHttp is not null, nameof(TcpRouteConfig.AuthHttp));
        Report(route.Tls is not null, nameof(TcpRouteConfig.Tls));
        Report(route.AllowPlaintextLogin, nameof(TcpRouteConfig.AllowPlaintextLogin));
        Report(route.LoginTimeout is not null, nameof(TcpRouteConfig.LoginTimeout));
        Report(route.FailedLoginDelay is not null, nameof(TcpRouteConfig.FailedLoginDelay));
        Report(route.MaxLineLength is not null, nameof(TcpRouteConfig.MaxLineLength));
        Report(route.ServerName is not null, nameof(TcpRouteConfig.ServerName));
    }

    private static void ValidateUsers(TcpRouteConfig route, string at, Func<string, bool>? clusterExists, List<string> errors)
    {
        if (route.Users is not { } users)
        {
            return;
        }

        if (users.Count == 0)
        {
            errors.Add($"{at}:Users: empty; allowed: one or more {{ \"Match\": \"^[a-m]\", \"ClusterId\": \"...\" }} (omit Users to send every login to ClusterId).");
        }

        if (route.AuthHttp is not null)
        {
            errors.Add($"{at}:Users: not used with AuthHttp, whose answer decides the backend alone; allowed: Users or AuthHttp, not both.");
        }

        for (int i = 0; i < users.Count; i++)
        {
            string key = $"{at}:Users:{i}";
            if (users[i] is not { } rule)
            {
                errors.Add($"{key}: a rule is null; allowed: TcpMailUserRule instances only.");
                continue;
            }

            if (CompileUserRule(rule.Match, out string? problem) is null)
            {
                errors.Add(problem == "missing"
                    ? $"{key}:Match: missing; allowed: a regular expression tried against the login name (case-insensitive), such as ^[a-m] or @example\\.com$."
                    : $"{key}:Match: '{rule.Match}' is not a regular expression: {problem} Allowed: a .NET regular expression, such as ^[a-m] or @example\\.com$.");
            }

            if (string.IsNullOrWhiteSpace(rule.ClusterId))
            {
                errors.Add($"{key}:ClusterId: missing; allowed: the id of a cluster under ReverseProxy:Clusters.");
            }
            else if (clusterExists is not null && !clusterExists(rule.ClusterId))
            {
                errors.Add($"{key}:ClusterId: cluster '{rule.ClusterId}' is not defined under ReverseProxy:Clusters (nor by another YARP config provider).");
            }
        }
    }

    private static void ValidateAuthHttp(TcpRouteConfig route, string at, List<string> errors)
    {
        if (route.AuthHttp is not { } url)
        {
            return;
        }

        if (!Uri.TryCreate(url.Trim(), UriKind.Absolute, out Uri? uri) || (uri.Scheme != Uri.UriSchemeHttp && uri.Scheme != Uri.UriSchemeHttps))
        {
            errors.Add($"{at}:AuthHttp: '{url}' is not an absolute http or https URL; allowed: such as http://127.0.0.1:9000/auth (nginx's auth_http).");
        }
    }

    private static void ValidateTls(TcpMailTlsConfig tls, string at, List<string> errors)
    {
        if (string.IsNullOrWhiteSpace(tls.CertificatePath))
        {
            errors.Add($"{at}:CertificatePath: missing; allowed: the path of a PEM certificate (with KeyPath) or of a PFX file (without it).");
            return;
        }

        bool found = true;
        if (!File.Exists(tls.CertificatePath))
        {
            errors.Add($"{at}:CertificatePath: file '{tls.CertificatePath}' not found; allowed: the path of a readable PEM or PFX file.");
            found = false;
        }

        if (tls.KeyPath is { } key && (string.IsNullOrWhiteSpace(key) || !File.Exists(key)))
        {
            errors.Add($"{at}:KeyPath: file '{key}' not found; allowed: the path of the certificate's PEM private key (omit KeyPath for a PFX).");
            found = false;
        }

        if (!found)
        {
            return;
        }

        try
        {
            using X509Certificate2 certificate = tls.LoadCertificate();
        }
        catch (Exception e) when (e is System.Security.Cryptography.CryptographicException or IOException or UnauthorizedAccessException or InvalidOperationException or ArgumentException)
        {
            string what = tls.KeyPath is null ? "PFX" : "PEM certificate and key";
            errors.Add($"{at}:CertificatePath: the {what} could not be loaded: {e.Message} Allowed: a PEM certificate with its PEM key in KeyPath, or a PFX with its key (CertificatePassword if it has one).");
        }
    }
}
