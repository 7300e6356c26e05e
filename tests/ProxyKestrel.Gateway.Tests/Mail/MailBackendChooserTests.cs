using System.Net;
using System.Text;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using ProxyKestrel.Gateway.Configuration;
using ProxyKestrel.Gateway.Mail;
using ProxyKestrel.Gateway.Tests.Infrastructure;
using ProxyKestrel.Gateway.Tests.Infrastructure.Transports;

namespace ProxyKestrel.Gateway.Tests.Mail;

/// <summary>
/// The choice of a mail login's backend without <c>AuthHttp</c>: a registered selector first (null falls through),
/// then the route's <c>Users</c> rules in order, then its <c>ClusterId</c>.
/// </summary>
[NotPerTransport("pure choice logic; no socket")]
public sealed class MailBackendChooserTests
{
    private static readonly TcpRouteConfig Route = new()
    {
        RouteId = "imap",
        Listen = ["127.0.0.1:0"],
        ClusterId = "imap-default",
        Protocol = TcpRouteProtocol.Imap,
        Users =
        [
            new TcpMailUserRule { Match = "^[a-m]", ClusterId = "imap1" },
            new TcpMailUserRule { Match = "^[n-z]", ClusterId = "imap2" },
            new TcpMailUserRule { Match = "@example\\.com$", ClusterId = "never-first" },
            new TcpMailUserRule { Match = "^9", ClusterId = "nines" },
        ],
    };

    [Theory]
    [InlineData("alice", "imap1")]
    [InlineData("Mallory", "imap1")]
    [InlineData("NADIA", "imap2")]
    [InlineData("zoe@example.com", "imap2")]
    [InlineData("42@example.com", "never-first")]
    [InlineData("9lives", "nines")]
    [InlineData("_system", "imap-default")]
    [InlineData("", "imap-default")]
    public async Task ChooseAsync_UsersRules_FirstCaseInsensitiveMatchElseClusterId(string user, string expected)
    {
        using var chooser = new MailBackendChooser(null, TimeProvider.System, NullLogger.Instance);

        MailBackendSelection selection = await chooser.ChooseAsync(Route, Login(user), null, 1, CancellationToken.None);

        Assert.Equal(MailBackendSelection.Cluster(expected), selection);
    }

    [Fact]
    public async Task ChooseAsync_TurkishCulture_RulesStayCultureInvariant()
    {
        using var chooser = new MailBackendChooser(null, TimeProvider.System, NullLogger.Instance);
        TcpRouteConfig route = Route with { Users = [new TcpMailUserRule { Match = "^i", ClusterId = "i-users" }] };
        System.Globalization.CultureInfo before = System.Globalization.CultureInfo.CurrentCulture;
        System.Globalization.CultureInfo.CurrentCulture = new System.Globalization.CultureInfo("tr-TR");
        try
        {
            MailBackendSelection selection = await chooser.ChooseAsync(route, Login("Ian"), null, 1, CancellationToken.None);

            Assert.Equal("i-users", selection.ClusterId);
        }
        finally
        {
            System.Globalization.CultureInfo.CurrentCulture = before;
        }
    }

    [Fact]
    public async Task ChooseAsync_NoUsers_TheRoutesCluster()
    {
        using var chooser = new MailBackendChooser(null, TimeProvider.System, NullLogger.Instance);

        MailBackendSelection selection = await chooser.ChooseAsync(Route with { Users = null }, Login("alice"), null, 1, CancellationToken.None);

        Assert.Equal("imap-default", selection.ClusterId);
        Assert.False(selection.IsRefused);
    }

    [Fact]
    public async Task ChooseAsync_RoutesChangedByReload_EachConfigsOwnRules()
    {
        using var chooser = new MailBackendChooser(null, TimeProvider.System, NullLogger.Instance);
        TcpRouteConfig reloaded = Route with { Users = [new TcpMailUserRule { Match = "^a", ClusterId = "moved" }] };

        MailBackendSelection before = await chooser.ChooseAsync(Route, Login("alice"), null, 1, CancellationToken.None);
        MailBackendSelection after = await chooser.ChooseAsync(reloaded, Login("alice"), null, 1, CancellationToken.None);
        MailBackendSelection again = await chooser.ChooseAsync(Route, Login("alice"), null, 1, CancellationToken.None);

        Assert.Equal("imap1", before.ClusterId);
        Assert.Equal("moved", after.ClusterId);
        Assert.Equal("imap1", again.ClusterId);
    }

    [Fact]
    public async Task ChooseAsync_SelectorAnswers_ItsAnswerBeforeTheRules()
    {
        var selector = new RecordingSelector(request => request.User == "alice" ? MailBackendSelection.At(new IPEndPoint(IPAddress.Loopback, 1143)) : MailBackendSelection.Cluster("special"));
        using var chooser = new MailBackendChooser(selector, TimeProvider.System, NullLogger.Instance);

        MailBackendSelection alice = await chooser.ChooseAsync(Route, Login("alice"), new IPEndPoint(IPAddress.Parse("::ffff:198.51.100.4"), 5000), 3, CancellationToken.None);
        MailBackendSelection nadia = await chooser.ChooseAsync(Route, Login("nadia"), null, 1, CancellationToken.None);

        Assert.Equal(new IPEndPoint(IPAddress.Loopback, 1143), alice.Server);
        Assert.Equal("special", nadia.ClusterId);
        MailBackendRequest first = selector.Requests[0];
        Assert.Equal(
            new MailBackendRequest { RouteId = "imap", Protocol = TcpRouteProtocol.Imap, User = "alice", ClientAddress = IPAddress.Parse("198.51.100.4"), LoginAttempt = 3 },
            first);
        Assert.Null(selector.Requests[1].ClientAddress);
    }

    [Fact]
    public async Task ChooseAsync_SelectorRefuses_TheRefusalIsFinal()
    {
        var selector = new RecordingSelector(_ => MailBackendSelection.Refuse("Account locked", TimeSpan.FromSeconds(5)));
        using var chooser = new MailBackendChooser(selector, TimeProvider.System, NullLogger.Instance);

        MailBackendSelection selection = await chooser.ChooseAsync(Route, Login("alice"), null, 1, CancellationToken.None);

        Assert.Equal("Account locked", selection.Error);
        Assert.Equal(TimeSpan.FromSeconds(5), selection.Wait);
        Assert.False(selection.Temporary);
    }

    [Fact]
    public async Task ChooseAsync_SelectorReturnsNull_TheRoutesRulesDecide()
    {
        var selector = new RecordingSelector(_ => null);
        using var chooser = new MailBackendChooser(selector, TimeProvider.System, NullLogger.Instance);

        MailBackendSelection nadia = await chooser.ChooseAsync(Route, Login("nadia"), null, 1, CancellationToken.None);
        MailBackendSelection other = await chooser.ChooseAsync(Route, Login("_x"), null, 1, CancellationToken.None);

        Assert.Equal("imap2", nadia.ClusterId);
        Assert.Equal("imap-default", other.ClusterId);
        Assert.Equal(2, selector.Requests.Count);
    }

    [Fact]
    public async Task ChooseAsync_SelectorThrowsOrAnswersNothing_TemporaryFailureAndLogged()
    {
        using var logs = new ListLoggerProvider();
        using ILoggerFactory factory = LoggerFactory.Create(b => b.AddProvider(logs));
        var throwing = new RecordingSelector(_ => throw new InvalidOperationException("directory down"));
        var empty = new RecordingSelector(_ => new MailBackendSelection());
        using var first = new MailBackendChooser(throwing, TimeProvider.System, factory.CreateLogger("ProxyKestrel.Gateway.Mail"));
        using var second = new MailBackendChooser(empty, TimeProvider.System, factory.CreateLogger("ProxyKestrel.Gateway.Mail"));

        MailBackendSelection failed = await first.ChooseAsync(Route, Login("alice"), null, 1, CancellationToken.None);
        MailBackendSelection nothing = await second.ChooseAsync(Route, Login("alice"), null, 1, CancellationToken.None);

        Assert.All([failed, nothing], s =>
        {
            Assert.True(s.Temporary);
            Assert.Equal(MailAuthHttpClient.TemporaryFailure, s.Error);
        });
        Assert.Contains(logs.Entries, e => e.EventId.Id == 162 && e.Level == LogLevel.Error);
        Assert.Contains(logs.Entries, e => e.EventId.Id == 163);
    }

    [Fact]
    public async Task ChooseAsync_SelectorCancelledByTheCaller_TemporaryFailure()
    {
        var selector = new RecordingSelector(null, async (_, token) => { await Task.Delay(Timeout.Infinite, token); return null; });
        using var chooser = new MailBackendChooser(selector, TimeProvider.System, NullLogger.Instance);
        using var cancel = new CancellationTokenSource(TimeSpan.FromMilliseconds(50));

        MailBackendSelection selection = await chooser.ChooseAsync(Route, Login("alice"), null, 1, cancel.Token);

        Assert.True(selection.Temporary);
    }

    [Fact]
    public async Task ChooseAsync_UserRuleTimesOut_CountsAsNotMatchingAndLogged()
    {
        using var logs = new ListLoggerProvider();
        using ILoggerFactory factory = LoggerFactory.Create(b => b.AddProvider(logs));
        using var chooser = new MailBackendChooser(null, TimeProvider.System, factory.CreateLogger("ProxyKestrel.Gateway.Mail"));
        TcpRouteConfig route = Route with { Users = [new TcpMailUserRule { Match = "^(a+)+$", ClusterId = "slow" }, new TcpMailUserRule { Match = "^a", ClusterId = "fast" }] };

        MailBackendSelection selection = await chooser.ChooseAsync(route, Login(new string('a', 40) + "!"), null, 1, CancellationToken.None);

        Assert.Equal("fast", selection.ClusterId);
        Assert.Contains(logs.Entries, e => e.EventId.Id == 164);
    }

    [Fact]
    public void AddMailBackendSelector_CalledTwice_TheFirstSelectorIsTheChoosers()
    {
        var services = new ServiceCollection();
        services.AddLogging();

        services.AddTcpProxy().AddMailBackendSelector<FixedSelector>().AddMailBackendSelector<OtherSelector>();

        Assert.Single(services, d => d.ServiceType == typeof(IMailBackendSelector));
        Assert.Single(services, d => d.ServiceType == typeof(MailBackendChooser));
        using ServiceProvider provider = services.BuildServiceProvider();
        Assert.IsType<FixedSelector>(provider.GetRequiredService<IMailBackendSelector>());
        Assert.Same(provider.GetRequiredService<MailBackendChooser>(), provider.GetRequiredService<MailBackendChooser>());
    }

    [Fact]
    public async Task AddTcpProxy_RegisteredSelector_UsedByTheChooser()
    {
        var services = new ServiceCollection();
        services.AddLogging();
        services.AddTcpProxy(new ConfigurationBuilder().Build().GetSection("TcpProxy"));
        services.AddTcpProxy().AddMailBackendSelector<FixedSelector>();
        using ServiceProvider provider = services.BuildServiceProvider();

        MailBackendSelection selection = await provider.GetRequiredService<MailBackendChooser>().ChooseAsync(Route, Login("alice"), null, 1, CancellationToken.None);

        Assert.Equal("fixed", selection.ClusterId);
    }

    [Fact]
    public void Factories_BadArguments_Thrown()
    {
        Assert.Throws<ArgumentException>(() => MailBackendSelection.Cluster(" "));
        Assert.Throws<ArgumentNullException>(() => MailBackendSelection.At(null!));
        Assert.Throws<ArgumentException>(() => MailBackendSelection.Refuse(""));
        Assert.Throws<ArgumentOutOfRangeException>(() => MailBackendSelection.Refuse("no", TimeSpan.FromSeconds(-1)));
        Assert.False(MailBackendSelection.Refuse("no").Temporary);
    }

    private static MailLogin Login(string user) =>
        new() { Protocol = MailProtocol.Imap, User = user, Method = MailLogin.MethodLogin, Password = Encoding.UTF8.GetBytes("pw") };

    private sealed class RecordingSelector(
        Func<MailBackendRequest, MailBackendSelection?>? answer,
        Func<MailBackendRequest, CancellationToken, Task<MailBackendSelection?>>? answerAsync = null) : IMailBackendSelector
    {
        public List<MailBackendRequest> Requests { get; } = [];

        public async ValueTask<MailBackendSelection?> SelectAsync(MailBackendRequest request, CancellationToken cancellationToken)
        {
            Requests.Add(request);
            return answerAsync is not null ? await answerAsync(request, cancellationToken) : answer!(request);
        }
    }

    private sealed class FixedSelector : IMailBackendSelector
    {
        public ValueTask<MailBackendSelection?> SelectAsync(MailBackendRequest request, CancellationToken cancellationToken) =>
            ValueTask.FromResult<MailBackendSelection?>(MailBackendSelection.Cluster("fixed"));
    }

    private sealed class OtherSelector : IMailBackendSelector
    {
        public ValueTask<MailBackendSelection?> SelectAsync(MailBackendRequest request, CancellationToken cancellationToken) =>
            ValueTask.FromResult<MailBackendSelection?>(MailBackendSelection.Cluster("other"));
    }
}
