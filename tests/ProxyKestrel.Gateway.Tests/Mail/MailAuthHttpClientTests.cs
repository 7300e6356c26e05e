using System.Diagnostics;
using System.Net;
using System.Text;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Logging;
using ProxyKestrel.Gateway.Configuration;
using ProxyKestrel.Gateway.Mail;
using ProxyKestrel.Gateway.Tests.Infrastructure;
using ProxyKestrel.Gateway.Tests.Infrastructure.Transports;

namespace ProxyKestrel.Gateway.Tests.Mail;

/// <summary>
/// A mail route's <c>AuthHttp</c> against a real HTTP server in the test: the request headers nginx's mail proxy sends,
/// and what each kind of answer (or none) becomes.
/// </summary>
[NotPerTransport("an HTTP client against an in-process Kestrel; no gateway listener")]
public sealed class MailAuthHttpClientTests : IDisposable
{
    private const string Password = "p a%ss\u00e9 w0rd";

    private readonly ListLoggerProvider _logs = new();
    private readonly ILoggerFactory _loggerFactory;

    public MailAuthHttpClientTests() => _loggerFactory = LoggerFactory.Create(b => b.AddProvider(_logs).SetMinimumLevel(LogLevel.Trace));

    public void Dispose() => _loggerFactory.Dispose();

    [Fact]
    public async Task ChooseAsync_ImapLogin_SendsEveryHeaderAsNginx()
    {
        await using AuthHttpServer server = await AuthHttpServer.StartAsync(AuthHttpServer.Headers(("Auth-Status", "OK"), ("Auth-Server", "127.0.0.1"), ("Auth-Port", "143")));
        using MailBackendChooser chooser = Chooser();

        await chooser.ChooseAsync(Route(server.Url), Login(MailProtocol.Imap, MailLogin.MethodLogin, "Al ice%"), new IPEndPoint(IPAddress.Parse("::ffff:192.0.2.7"), 50000), 2, CancellationToken.None);

        (string method, string path, IReadOnlyDictionary<string, string> headers) = Assert.Single(server.Requests);
        Assert.Equal("GET", method);
        Assert.Equal("/auth", path);
        Assert.Equal(server.Url.Authority, headers["Host"]);
        Assert.Equal("plain", headers["Auth-Method"]);
        Assert.Equal("Al%20ice%25", headers["Auth-User"]);
        Assert.Equal("p%20a%25ss%C3%A9%20w0rd", headers["Auth-Pass"]);
        Assert.Equal("imap", headers["Auth-Protocol"]);
        Assert.Equal("2", headers["Auth-Login-Attempt"]);
        Assert.Equal("192.0.2.7", headers["Client-IP"]);
        Assert.Equal("[UNAVAILABLE]", headers["Client-Host"]);
        Assert.DoesNotContain(headers.Keys, k => k.StartsWith("Auth-SMTP", StringComparison.OrdinalIgnoreCase));
        Assert.Equal(Password, Uri.UnescapeDataString(headers["Auth-Pass"]));
    }

    [Theory]
    [InlineData("Pop3", MailLogin.MethodUser, "pop3", "plain")]
    [InlineData("Pop3", MailLogin.MethodPlain, "pop3", "plain")]
    [InlineData("Imap", MailLogin.MethodPlain, "imap", "plain")]
    [InlineData("Smtp", MailLogin.MethodPlain, "smtp", "plain")]
    [InlineData("Smtp", MailLogin.MethodAuthLogin, "smtp", "login")]
    public async Task ChooseAsync_EachProtocolAndMethod_NginxsProtocolAndMethodNames(string protocol, string loginMethod, string expectedProtocol, string expectedMethod)
    {
        await using AuthHttpServer server = await AuthHttpServer.StartAsync(AuthHttpServer.Headers(("Auth-Status", "OK"), ("Auth-Server", "127.0.0.1"), ("Auth-Port", "110")));
        using MailBackendChooser chooser = Chooser();

        await chooser.ChooseAsync(Route(server.Url), Login(Enum.Parse<MailProtocol>(protocol), loginMethod, "bob"), null, 1, CancellationToken.None);

        IReadOnlyDictionary<string, string> headers = Assert.Single(server.Requests).Headers;
        Assert.Equal(expectedProtocol, headers["Auth-Protocol"]);
        Assert.Equal(expectedMethod, headers["Auth-Method"]);
        Assert.Equal("1", headers["Auth-Login-Attempt"]);
        Assert.False(headers.ContainsKey("Client-IP"));
    }

    [Fact]
    public async Task ChooseAsync_SmtpLogin_SendsHeloAndEmptyFromAndTo()
    {
        await using AuthHttpServer server = await AuthHttpServer.StartAsync(AuthHttpServer.Headers(("Auth-Status", "OK"), ("Auth-Server", "127.0.0.1"), ("Auth-Port", "587")));
        using MailBackendChooser chooser = Chooser();
        MailLogin login = new() { Protocol = MailProtocol.Smtp, User = "carol", Method = MailLogin.MethodAuthLogin, Password = Encoding.UTF8.GetBytes(Password), HeloName = "client host" };

        await chooser.ChooseAsync(Route(server.Url), login, new IPEndPoint(IPAddress.Loopback, 40000), 1, CancellationToken.None);

        IReadOnlyDictionary<string, string> headers = Assert.Single(server.Requests).Headers;
        Assert.Equal("client%20host", headers["Auth-SMTP-Helo"]);
        Assert.Equal(string.Empty, headers["Auth-SMTP-From"]);
        Assert.Equal(string.Empty, headers["Auth-SMTP-To"]);
        Assert.Equal("127.0.0.1", headers["Client-IP"]);
    }

    [Theory]
    [InlineData("127.0.0.1", "1143", "127.0.0.1:1143")]
    [InlineData("::1", "993", "[::1]:993")]
    public async Task ChooseAsync_AuthStatusOk_TheServerAndPortItNames(string address, string port, string expected)
    {
        await using AuthHttpServer server = await AuthHttpServer.StartAsync(AuthHttpServer.Headers(("Auth-Status", "OK"), ("Auth-Server", address), ("Auth-Port", port)));
        using MailBackendChooser chooser = Chooser();

        MailBackendSelection selection = await chooser.ChooseAsync(Route(server.Url), Login(), null, 1, CancellationToken.None);

        Assert.Equal(IPEndPoint.Parse(expected), selection.Server);
        Assert.Null(selection.ClusterId);
        Assert.False(selection.IsRefused);
    }

    [Fact]
    public async Task ChooseAsync_AuthStatusError_RejectedWithTheTextWaitAndErrorCode()
    {
        await using AuthHttpServer server = await AuthHttpServer.StartAsync(AuthHttpServer.Headers(
            ("Auth-Status", "Invalid login or password"), ("Auth-Wait", "3"), ("Auth-Error-Code", "535 5.7.8")));
        using MailBackendChooser chooser = Chooser();

        MailBackendSelection selection = await chooser.ChooseAsync(Route(server.Url), Login(MailProtocol.Smtp, MailLogin.MethodPlain, "dave"), null, 1, CancellationToken.None);

        Assert.True(selection.IsRefused);
        Assert.False(selection.Temporary);
        Assert.Equal("Invalid login or password", selection.Error);
        Assert.Equal(TimeSpan.FromSeconds(3), selection.Wait);
        Assert.Equal("535 5.7.8", selection.ErrorCode);
        Assert.Null(selection.Server);
        Assert.Contains(_logs.Entries, e => e.EventId.Id == 161 && e.Message.Contains("Invalid login or password", StringComparison.Ordinal));
    }

    [Fact]
    public async Task ChooseAsync_AuthStatusErrorWithoutWait_RejectedWithTheRoutesDelay()
    {
        await using AuthHttpServer server = await AuthHttpServer.StartAsync(context =>
        {
            context.Response.StatusCode = StatusCodes.Status403Forbidden;
            context.Response.Headers["Auth-Status"] = "Mailbox disabled";
            return Task.CompletedTask;
        });
        using MailBackendChooser chooser = Chooser();

        MailBackendSelection selection = await chooser.ChooseAsync(Route(server.Url), Login(), null, 1, CancellationToken.None);

        Assert.Equal("Mailbox disabled", selection.Error);
        Assert.Null(selection.Wait);
        Assert.Null(selection.ErrorCode);
        Assert.False(selection.Temporary);
    }

    [Theory]
    [InlineData(500, "OK", "127.0.0.1", "143", null)]
    [InlineData(503, null, null, null, null)]
    [InlineData(200, null, null, null, null)]
    [InlineData(404, null, null, null, null)]
    [InlineData(200, "OK", "mail.example.com", "143", null)]
    [InlineData(200, "OK", "127.0.0.1", "0", null)]
    [InlineData(200, "OK", "127.0.0.1", null, null)]
    [InlineData(200, "Invalid login", null, null, "soon")]
    public async Task ChooseAsync_FailedOrGarbledAnswer_TemporaryFailure(int status, string? authStatus, string? authServer, string? authPort, string? authWait)
    {
        await using AuthHttpServer server = await AuthHttpServer.StartAsync(context =>
        {
            context.Response.StatusCode = status;
            foreach ((string name, string? value) in new[] { ("Auth-Status", authStatus), ("Auth-Server", authServer), ("Auth-Port", authPort), ("Auth-Wait", authWait) })
            {
                if (value is not null)
                {
                    context.Response.Headers[name] = value;
                }
            }

            return Task.CompletedTask;
        });
        using MailBackendChooser chooser = Chooser();

        MailBackendSelection selection = await chooser.ChooseAsync(Route(server.Url), Login(), null, 1, CancellationToken.None);

        AssertTemporary(selection);
        Assert.Contains(_logs.Entries, e => e.EventId.Id == 160 && e.Level == LogLevel.Warning);
    }

    [Fact]
    public async Task ChooseAsync_ServerDown_TemporaryFailure()
    {
        using MailBackendChooser chooser = Chooser();
        var url = new Uri($"http://127.0.0.1:{Net.ClosedPort()}/auth");

        MailBackendSelection selection = await chooser.ChooseAsync(Route(url), Login(), null, 1, CancellationToken.None);

        AssertTemporary(selection);
        Assert.Contains(_logs.Entries, e => e.EventId.Id == 160 && e.Message.Contains(url.Authority, StringComparison.Ordinal));
    }

    [Fact]
    public async Task ChooseAsync_ServerSilentBeyondLoginTimeout_TemporaryFailureInTime()
    {
        var release = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        await using AuthHttpServer server = await AuthHttpServer.StartAsync(async context =>
        {
            await release.Task.WaitAsync(TimeSpan.FromSeconds(30), context.RequestAborted).ContinueWith(_ => { }, TaskScheduler.Default);
        });
        using MailBackendChooser chooser = Chooser();
        TcpRouteConfig route = Route(server.Url) with { LoginTimeout = TimeSpan.FromMilliseconds(300) };
        var watch = Stopwatch.StartNew();

        MailBackendSelection selection = await chooser.ChooseAsync(route, Login(), null, 1, CancellationToken.None);

        watch.Stop();
        release.TrySetResult();
        AssertTemporary(selection);
        Assert.InRange(watch.Elapsed, TimeSpan.FromMilliseconds(250), TimeSpan.FromSeconds(10));
        Assert.Contains(_logs.Entries, e => e.EventId.Id == 160 && e.Message.Contains("no answer in time", StringComparison.Ordinal));
    }

    [Fact]
    public async Task ChooseAsync_CallersTokenEndsTheWait_TemporaryFailure()
    {
        var release = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        await using AuthHttpServer server = await AuthHttpServer.StartAsync(async context =>
        {
            await release.Task.WaitAsync(TimeSpan.FromSeconds(30), context.RequestAborted).ContinueWith(_ => { }, TaskScheduler.Default);
        });
        using MailBackendChooser chooser = Chooser();
        using var budget = new CancellationTokenSource(TimeSpan.FromMilliseconds(200));

        MailBackendSelection selection = await chooser.ChooseAsync(Route(server.Url), Login(), null, 1, budget.Token);

        release.TrySetResult();
        AssertTemporary(selection);
    }

    [Fact]
    public async Task ChooseAsync_EveryOutcome_ThePasswordIsNeverLogged()
    {
        byte[] password = Encoding.UTF8.GetBytes(Password);
        string[] forms = [Password, "p a%ss", MailAuthHttpClient.Escape(password), Convert.ToBase64String(password), Convert.ToHexString(password)];
        await using AuthHttpServer server = await AuthHttpServer.StartAsync(AuthHttpServer.Headers(("Auth-Status", "OK"), ("Auth-Server", "127.0.0.1"), ("Auth-Port", "143")));
        using MailBackendChooser chooser = Chooser();
        MailLogin login = Login(MailProtocol.Imap, MailLogin.MethodLogin, "erin");
        Func<HttpContext, Task>[] answers =
        [
            AuthHttpServer.Headers(("Auth-Status", "OK"), ("Auth-Server", "127.0.0.1"), ("Auth-Port", "143")),
            AuthHttpServer.Headers(("Auth-Status", "Invalid login"), ("Auth-Wait", "1")),
            AuthHttpServer.Headers(("Auth-Status", "OK"), ("Auth-Server", "garbage")),
            context => { context.Response.StatusCode = 502; return Task.CompletedTask; },
            context => throw new InvalidOperationException("the script crashed"),
        ];

        foreach (Func<HttpContext, Task> answer in answers)
        {
            server.Answer = answer;
            await chooser.ChooseAsync(Route(server.Url), login, new IPEndPoint(IPAddress.Loopback, 1), 1, CancellationToken.None);
        }

        await chooser.ChooseAsync(Route(new Uri($"http://127.0.0.1:{Net.ClosedPort()}/auth")), login, null, 1, CancellationToken.None);
        await chooser.ChooseAsync(Route(server.Url) with { LoginTimeout = TimeSpan.FromMilliseconds(1) }, login, null, 1, CancellationToken.None);

        Assert.True(server.Requests.Count >= answers.Length, $"{server.Requests.Count} requests");
        Assert.All(server.Requests, r => Assert.Equal(MailAuthHttpClient.Escape(password), r.Headers["Auth-Pass"]));
        Assert.Contains(_logs.Entries, e => e.EventId.Id == 160);
        Assert.Contains(_logs.Entries, e => e.EventId.Id == 161);
        Assert.Contains(_logs.Entries, e => e.EventId.Id == 165);
        foreach ((EventId id, LogLevel _, string _, string message) in _logs.Entries)
        {
            Assert.Contains("erin", message, StringComparison.Ordinal);
            Assert.DoesNotContain("Auth-Pass", message, StringComparison.OrdinalIgnoreCase);
            foreach (string form in forms)
            {
                Assert.DoesNotContain(form, message, StringComparison.Ordinal);
            }
        }

        foreach ((EventId _, string _, string message, IReadOnlyDictionary<string, object?> state) in _logs.Structured)
        {
            foreach (object? value in state.Values)
            {
                string text = value?.ToString() ?? string.Empty;
                Assert.DoesNotContain(forms, f => text.Contains(f, StringComparison.Ordinal));
            }
        }
    }

    [Fact]
    public async Task ChooseAsync_AuthUrlWithUserInfoAndQuery_LoggedWithoutThem()
    {
        using MailBackendChooser chooser = Chooser();
        var url = new Uri($"http://admin:hunter2@127.0.0.1:{Net.ClosedPort()}/auth?token=s3cret");

        await chooser.ChooseAsync(Route(url), Login(), null, 1, CancellationToken.None);

        string message = Assert.Single(_logs.Entries, e => e.EventId.Id == 160).Message;
        Assert.Contains("/auth", message, StringComparison.Ordinal);
        Assert.DoesNotContain("hunter2", message, StringComparison.Ordinal);
        Assert.DoesNotContain("s3cret", message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("plain", "plain")]
    [InlineData("a b%c", "a%20b%25c")]
    [InlineData("tab\there", "tab%09here")]
    [InlineData("ü", "%C3%BC")]
    [InlineData("del\u007f", "del%7F")]
    [InlineData("!#$&'()*+,/:;=?@[]~", "!#$&'()*+,/:;=?@[]~")]
    public void Escape_Bytes_SpacePercentControlAndNonAsciiEscaped(string value, string expected)
    {
        Assert.Equal(expected, MailAuthHttpClient.Escape(Encoding.UTF8.GetBytes(value)));
    }

    private static void AssertTemporary(MailBackendSelection selection)
    {
        Assert.True(selection.IsRefused);
        Assert.True(selection.Temporary);
        Assert.Equal(MailAuthHttpClient.TemporaryFailure, selection.Error);
        Assert.Null(selection.Server);
        Assert.Null(selection.ClusterId);
    }

    private MailBackendChooser Chooser() =>
        new(new ThrowingSelector(), TimeProvider.System, _loggerFactory.CreateLogger("ProxyKestrel.Gateway.Mail"));

    private static TcpRouteConfig Route(Uri authHttp) => new()
    {
        RouteId = "imap",
        Listen = ["127.0.0.1:0"],
        ClusterId = "imap-default",
        Protocol = TcpRouteProtocol.Imap,
        AuthHttp = authHttp.OriginalString,
    };

    private static MailLogin Login(MailProtocol protocol = MailProtocol.Imap, string method = MailLogin.MethodLogin, string user = "alice") =>
        new() { Protocol = protocol, User = user, Method = method, Password = Encoding.UTF8.GetBytes(Password) };

    /// <summary>A selector that must never be asked: a route with AuthHttp has its answer alone.</summary>
    private sealed class ThrowingSelector : IMailBackendSelector
    {
        public ValueTask<MailBackendSelection?> SelectAsync(MailBackendRequest request, CancellationToken cancellationToken) =>
            throw new InvalidOperationException("the selector was asked although the route has AuthHttp");
    }
}
