using System.Globalization;
using System.Net;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using ProxyKestrel.Gateway.Mail;
using ProxyKestrel.Gateway.Tests.Infrastructure;
using ProxyKestrel.Gateway.Tests.RealPeers;

namespace ProxyKestrel.Gateway.Tests.Mail.Front;

/// <summary>
/// The mail front choosing the backend through nginx's <c>auth_http</c> protocol (an auth server in the test answers
/// with the Dovecot instance of each user) and through an application's <see cref="IMailBackendSelector"/>; the
/// Dovecot instances log the real client. On every transport.
/// </summary>
public sealed class MailFrontAuthHttpTests
{
    private const string Client = "127.0.0.2";
    private static readonly TimeSpan s_logTimeout = TimeSpan.FromSeconds(10);

    [Fact]
    public async Task Login_AuthHttpNamesEachUsersServer_ImapAliceOnImap1NinaOnImap2RefusedUserToldWhy()
    {
        await using DovecotPeer imap1 = await DovecotPeer.StartAsync("front-auth-imap1", [("alice", "alice-pw", null)]);
        await using DovecotPeer imap2 = await DovecotPeer.StartAsync("front-auth-imap2", [("nina", "nina-pw", null)]);
        await using AuthHttpServer auth = await AuthHttpServer.StartAsync(ServerPerUser(("alice", imap1.ImapPort), ("nina", imap2.ImapPort)));
        await using GatewayHost gateway = await GatewayHost.StartAsync(MailFrontConfig.Imap(FreePort.Next(), imap1, imap2, authHttp: auth.Url.ToString()));
        int port = gateway.EndPointOf("imap").Port;

        await using (MailTestClient alice = await MailTestClient.ConnectAsync(Client, port))
        {
            await alice.ReadLineAsync();
            Assert.StartsWith("a1 OK ", (await alice.CommandAsync("a1 LOGIN alice alice-pw", "a1 "))[^1], StringComparison.Ordinal);
            await imap1.WaitForLogAsync($"Login: user=<alice>, method=PLAIN, rip={Client}, rport={alice.LocalEndPoint.Port}", s_logTimeout);
        }

        await using (MailTestClient nina = await MailTestClient.ConnectAsync(Client, port))
        {
            await nina.ReadLineAsync();
            Assert.StartsWith("b1 OK ", (await nina.CommandAsync("b1 LOGIN nina nina-pw", "b1 "))[^1], StringComparison.Ordinal);
            await imap2.WaitForLogAsync($"Login: user=<nina>, method=PLAIN, rip={Client}, rport={nina.LocalEndPoint.Port}", s_logTimeout);
        }

        await using (MailTestClient mallory = await MailTestClient.ConnectAsync(Client, port))
        {
            await mallory.ReadLineAsync();
            Assert.Equal("c1 NO [AUTHENTICATIONFAILED] Invalid login or password", (await mallory.CommandAsync("c1 LOGIN mallory guess", "c1 "))[^1]);
        }

        (string _, string _, IReadOnlyDictionary<string, string> first) = auth.Requests.First();
        Assert.Equal("alice", first["Auth-User"]);
        Assert.Equal("imap", first["Auth-Protocol"]);
        Assert.Equal(Client, first["Client-IP"]);
        Assert.Equal(3, auth.Requests.Count);
        Assert.DoesNotContain("mallory", imap1.Log + imap2.Log, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Login_AuthHttpNamesEachUsersServer_Pop3NinaOnPop2()
    {
        await using DovecotPeer pop1 = await DovecotPeer.StartAsync("front-auth-pop1", [("alice", "alice-pw", null)]);
        await using DovecotPeer pop2 = await DovecotPeer.StartAsync("front-auth-pop2", [("nina", "nina-pw", null)]);
        await using AuthHttpServer auth = await AuthHttpServer.StartAsync(ServerPerUser(("alice", pop1.Pop3Port), ("nina", pop2.Pop3Port)));
        await using GatewayHost gateway = await GatewayHost.StartAsync(MailFrontConfig.Pop3(FreePort.Next(), pop1, pop2, authHttp: auth.Url.ToString()));
        await using MailTestClient nina = await MailTestClient.ConnectAsync(Client, gateway.EndPointOf("pop3").Port);

        await nina.ReadLineAsync();
        await nina.CommandAsync("USER nina", "+");
        Assert.Equal("+OK Logged in.", (await nina.CommandAsync("PASS nina-pw", "+"))[^1]);

        await pop2.WaitForLogAsync($"pop3-login: Info: Login: user=<nina>, method=PLAIN, rip={Client}, rport={nina.LocalEndPoint.Port}", s_logTimeout);
        Assert.Equal("pop3", auth.Requests.Single().Headers["Auth-Protocol"]);
    }

    [Fact]
    public async Task Login_AuthHttpServerDown_TemporaryFailureNoBackendDialled()
    {
        await using DovecotPeer imap1 = await DovecotPeer.StartAsync("front-auth-down1", [("alice", "alice-pw", null)]);
        await using GatewayHost gateway = await GatewayHost.StartAsync(
            MailFrontConfig.Imap(FreePort.Next(), imap1, imap2Port: FreePort.Next(), authHttp: $"http://127.0.0.1:{FreePort.Next()}/auth"));
        await using MailTestClient client = await MailTestClient.ConnectAsync(Client, gateway.EndPointOf("imap").Port);
        await client.ReadLineAsync();

        string answer = (await client.CommandAsync("a1 LOGIN alice alice-pw", "a1 "))[^1];

        Assert.StartsWith("a1 NO [UNAVAILABLE] ", answer, StringComparison.Ordinal);
        Assert.DoesNotContain("Login:", imap1.Log, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Login_ApplicationSelector_ItsClusterBeforeTheUsersRules()
    {
        // The rules send alice to mail1; the application's selector sends her to mail2, where she exists.
        await using DovecotPeer imap1 = await DovecotPeer.StartAsync("front-select1", [("nina", "nina-pw", null)]);
        await using DovecotPeer imap2 = await DovecotPeer.StartAsync("front-select2", [("alice", "alice-pw", null)]);
        var selector = new ClusterSelector("alice", "mail2");
        await using GatewayHost gateway = await GatewayHost.StartAsync(
            MailFrontConfig.Imap(FreePort.Next(), imap1, imap2), services => services.AddSingleton<IMailBackendSelector>(selector));
        await using MailTestClient client = await MailTestClient.ConnectAsync(Client, gateway.EndPointOf("imap").Port);
        await client.ReadLineAsync();

        Assert.StartsWith("a1 OK ", (await client.CommandAsync("a1 LOGIN alice alice-pw", "a1 "))[^1], StringComparison.Ordinal);

        await imap2.WaitForLogAsync($"Login: user=<alice>, method=PLAIN, rip={Client}", s_logTimeout);
        MailBackendRequest request = Assert.Single(selector.Requests);
        Assert.Equal(("imap", "alice", IPAddress.Parse(Client), 1), (request.RouteId, request.User, request.ClientAddress, request.LoginAttempt));
    }

    /// <summary>nginx's auth_http answer: each known user's server, anyone else refused without a wait.</summary>
    private static Func<HttpContext, Task> ServerPerUser(params (string User, int Port)[] users) => context =>
    {
        string user = context.Request.Headers["Auth-User"].ToString();
        int port = users.FirstOrDefault(u => u.User == user).Port;
        if (port == 0)
        {
            context.Response.Headers["Auth-Status"] = "Invalid login or password";
            context.Response.Headers["Auth-Wait"] = "0";
        }
        else
        {
            context.Response.Headers["Auth-Status"] = "OK";
            context.Response.Headers["Auth-Server"] = "127.0.0.1";
            context.Response.Headers["Auth-Port"] = port.ToString(CultureInfo.InvariantCulture);
        }

        return Task.CompletedTask;
    };

    /// <summary>An application's selector: one user to one cluster, the rest to the route's rules.</summary>
    private sealed class ClusterSelector(string user, string clusterId) : IMailBackendSelector
    {
        public System.Collections.Concurrent.ConcurrentQueue<MailBackendRequest> Requests { get; } = new();

        public ValueTask<MailBackendSelection?> SelectAsync(MailBackendRequest request, CancellationToken cancellationToken)
        {
            Requests.Enqueue(request);
            return new ValueTask<MailBackendSelection?>(request.User == user ? MailBackendSelection.Cluster(clusterId) : null);
        }
    }
}
