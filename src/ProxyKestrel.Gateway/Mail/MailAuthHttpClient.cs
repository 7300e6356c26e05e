using System.Globalization;
using System.Net;
using System.Net.Http.Headers;
using System.Text;
using Microsoft.Extensions.Logging;

namespace ProxyKestrel.Gateway.Mail;

/// <summary>
/// Asks an nginx-style <c>auth_http</c> server where a mail login goes: a GET with the login in request headers
/// (<c>Auth-Method</c>, <c>Auth-User</c>, <c>Auth-Pass</c>, <c>Auth-Protocol</c>, <c>Auth-Login-Attempt</c>,
/// <c>Client-IP</c>, <c>Client-Host</c>, and for SMTP <c>Auth-SMTP-Helo</c>, <c>Auth-SMTP-From</c>, <c>Auth-SMTP-To</c>),
/// answered in response headers (<c>Auth-Status</c>, <c>Auth-Server</c>, <c>Auth-Port</c>, <c>Auth-Wait</c>,
/// <c>Auth-Error-Code</c>). A server that cannot be reached, fails (5xx), answers nonsense or not in time gives a
/// temporary failure, never an exception. Neither the password nor a request header is ever logged.
/// </summary>
internal sealed class MailAuthHttpClient : IDisposable
{
    /// <summary>The error of a temporary failure: the auth server gave no usable answer.</summary>
    internal const string TemporaryFailure = "Temporary authentication failure, try again later";

    /// <summary>nginx's <c>Client-Host</c> when it does not resolve the client's name (it never does here).</summary>
    internal const string UnavailableHost = "[UNAVAILABLE]";

    private readonly HttpClient _client;
    private readonly ILogger _logger;

    /// <summary>A client with its own <see cref="SocketsHttpHandler"/> (no proxy, no redirects, no cookies).</summary>
    public MailAuthHttpClient(ILogger logger)
        : this(CreateHandler(), logger)
    {
    }

    /// <summary>A client sending through <paramref name="handler"/>, which it then owns.</summary>
    internal MailAuthHttpClient(HttpMessageHandler handler, ILogger logger)
    {
        ArgumentNullException.ThrowIfNull(handler);
        ArgumentNullException.ThrowIfNull(logger);
        _client = new HttpClient(handler, disposeHandler: true) { Timeout = Timeout.InfiniteTimeSpan };
        _logger = logger;
    }

    /// <summary>
    /// Asks <paramref name="url"/> about <paramref name="login"/>. Returns the server's answer (<see cref="MailBackendSelection.At"/>
    /// or a rejection), or a temporary failure when there is none, also when <paramref name="cancellationToken"/> ends the wait.
    /// </summary>
    public async ValueTask<MailBackendSelection> AskAsync(Uri url, string routeId, MailLogin login, IPEndPoint? client, int attempt, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(url);
        ArgumentNullException.ThrowIfNull(login);
        using HttpRequestMessage request = CreateRequest(url, login, client, attempt);
        string? problem;
        try
        {
            using HttpResponseMessage response = await _client.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, cancellationToken).ConfigureAwait(false);
            if (Interpret(response, out problem) is { } selection)
            {
                return selection;
            }
        }
        catch (HttpRequestException e)
        {
            problem = e.HttpRequestError == HttpRequestError.Unknown ? e.Message : $"{e.HttpRequestError}: {e.Message}";
        }
        catch (OperationCanceledException)
        {
            problem = "no answer in time (the login's LoginTimeout ran out, or the client left)";
        }

        MailBackendLog.AuthHttpFailed(_logger, routeId, Describe(url), MailLines.Sanitize(login.User), attempt, problem ?? "no answer");
        return MailBackendSelection.Unavailable(TemporaryFailure);
    }

    /// <inheritdoc/>
    public void Dispose() => _client.Dispose();

    /// <summary>The request nginx's mail proxy would send for <paramref name="login"/>.</summary>
    internal static HttpRequestMessage CreateRequest(Uri url, MailLogin login, IPEndPoint? client, int attempt)
    {
        var request = new HttpRequestMessage(HttpMethod.Get, url);
        HttpRequestHeaders headers = request.Headers;
        headers.TryAddWithoutValidation("Auth-Method", login.Method == MailLogin.MethodAuthLogin ? "login" : "plain");
        headers.TryAddWithoutValidation("Auth-User", Escape(Encoding.UTF8.GetBytes(login.User)));
        headers.TryAddWithoutValidation("Auth-Pass", Escape(login.Password.Span));
        headers.TryAddWithoutValidation("Auth-Protocol", ProtocolName(login.Protocol));
        headers.TryAddWithoutValidation("Auth-Login-Attempt", attempt.ToString(CultureInfo.InvariantCulture));
        if (client is not null)
        {
            IPAddress address = client.Address.IsIPv4MappedToIPv6 ? client.Address.MapToIPv4() : client.Address;
            headers.TryAddWithoutValidation("Client-IP", address.ToString());
        }

        headers.TryAddWithoutValidation("Client-Host", UnavailableHost);
        if (login.Protocol == MailProtocol.Smtp)
        {
            headers.TryAddWithoutValidation("Auth-SMTP-Helo", Escape(Encoding.UTF8.GetBytes(login.HeloName ?? string.Empty)));
            headers.TryAddWithoutValidation("Auth-SMTP-From", string.Empty);
            headers.TryAddWithoutValidation("Auth-SMTP-To", string.Empty);
        }

        return request;
    }

    /// <summary>
    /// <paramref name="value"/> as nginx escapes <c>Auth-User</c> and <c>Auth-Pass</c>: a space, <c>%</c> and the
    /// control characters as <c>%XX</c> (upper-case hex); here every byte outside printable ASCII too, as a header is
    /// ASCII. An auth server URL-decodes it.
    /// </summary>
    internal static string Escape(ReadOnlySpan<byte> value)
    {
        var text = new StringBuilder(value.Length);
        foreach (byte b in value)
        {
            if (b is <= (byte)' ' or (byte)'%' or >= 0x7F)
            {
                text.Append('%').Append(b.ToString("X2", CultureInfo.InvariantCulture));
            }
            else
            {
                text.Append((char)b);
            }
        }

        return text.ToString();
    }

    /// <summary>The answer in <paramref name="response"/>; null, with <paramref name="problem"/>, when it is not one.</summary>
    internal static MailBackendSelection? Interpret(HttpResponseMessage response, out string? problem)
    {
        problem = null;
        int code = (int)response.StatusCode;
        if (code >= 500)
        {
            problem = $"HTTP status {code}";
            return null;
        }

        if (Header(response, "Auth-Status") is not { Length: > 0 } status)
        {
            problem = $"no Auth-Status header (HTTP status {code})";
            return null;
        }

        if (string.Equals(status, "OK", StringComparison.Ordinal))
        {
            string? server = Header(response, "Auth-Server");
            string? port = Header(response, "Auth-Port");
            if (server is null || !IPAddress.TryParse(server, out IPAddress? address))
            {
                problem = $"Auth-Status OK without an IP address in Auth-Server ('{MailLines.Sanitize(server ?? string.Empty, 64)}')";
                return null;
            }

            if (!int.TryParse(port, NumberStyles.None, CultureInfo.InvariantCulture, out int number) || number is < 1 or > 65535)
            {
                problem = $"Auth-Status OK without a port (1 to 65535) in Auth-Port ('{MailLines.Sanitize(port ?? string.Empty, 64)}')";
                return null;
            }

            return MailBackendSelection.At(new IPEndPoint(address, number));
        }

        TimeSpan? wait = null;
        if (Header(response, "Auth-Wait") is { } waitText)
        {
            if (!int.TryParse(waitText, NumberStyles.None, CultureInfo.InvariantCulture, out int seconds))
            {
                problem = $"Auth-Wait is not a number of seconds ('{MailLines.Sanitize(waitText, 64)}')";
                return null;
            }

            wait = TimeSpan.FromSeconds(seconds);
        }

        return MailBackendSelection.Refuse(MailLines.Sanitize(status), wait) with { ErrorCode = Header(response, "Auth-Error-Code") is { Length: > 0 } errorCode ? MailLines.Sanitize(errorCode, 64) : null };
    }

    /// <summary>The URL as logged: scheme, host, port and path, never its user info or query.</summary>
    internal static string Describe(Uri url) =>
        url.GetComponents(UriComponents.SchemeAndServer | UriComponents.Path, UriFormat.UriEscaped);

    private static string ProtocolName(MailProtocol protocol) => protocol switch
    {
        MailProtocol.Imap => "imap",
        MailProtocol.Pop3 => "pop3",
        MailProtocol.Smtp => "smtp",
        _ => throw new ArgumentOutOfRangeException(nameof(protocol), protocol, "Not a mail protocol."),
    };

    private static string? Header(HttpResponseMessage response, string name) =>
        response.Headers.TryGetValues(name, out IEnumerable<string>? values) ? values.FirstOrDefault()?.Trim() : null;

    private static SocketsHttpHandler CreateHandler() => new()
    {
        UseProxy = false,
        AllowAutoRedirect = false,
        UseCookies = false,
        AutomaticDecompression = DecompressionMethods.None,
        PooledConnectionLifetime = TimeSpan.FromMinutes(2),
        PooledConnectionIdleTimeout = TimeSpan.FromSeconds(30),
    };
}
