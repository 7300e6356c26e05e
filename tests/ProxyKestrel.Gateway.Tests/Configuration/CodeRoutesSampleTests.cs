using System.Globalization;
using System.Net;
using System.Net.Http.Json;
using System.Net.Sockets;
using System.Text.Json;
using System.Text.RegularExpressions;
using ProxyKestrel.Gateway.Tests.Infrastructure;
using ProxyKestrel.Gateway.Tests.Infrastructure.Transports;

namespace ProxyKestrel.Gateway.Tests.Configuration;

/// <summary>
/// The real samples/CodeRoutes process: its cluster and first route are built in code; its HTTP API adds, changes and
/// removes routes at run time; /readyz is mapped with MapHealthChecks.
/// </summary>
public partial class CodeRoutesSampleTests
{
    [Fact]
    public async Task Sample_RoutesChangedThroughItsApi_RelaysAndKeepsOpenConnection()
    {
        await using var backend = new ProxyBackend();
        int first = FreePort.Next();
        int second = FreePort.Next();
        await using ChildProcess sample = StartSample(backend, first);
        int httpPort = int.Parse((await sample.WaitForLineAsync(HttpListening(), TimeSpan.FromSeconds(30))).Groups[1].Value, CultureInfo.InvariantCulture);
        await sample.WaitForLineAsync(new Regex($@"TCP route first listening on 127\.0\.0\.1:{first}\b"), TimeSpan.FromSeconds(30));
        using var http = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{httpPort}"), Timeout = Net.Timeout };

        using Socket open = await Net.ConnectAsync(new IPEndPoint(IPAddress.Loopback, first), "127.0.0.151");
        await Net.AssertEchoAsync(open, "first");
        Assert.Equal("127.0.0.151", Assert.Single(backend.Connections).Source!.Address.ToString());
        Assert.Equal(HttpStatusCode.OK, (await http.GetAsync(new Uri("/readyz", UriKind.Relative))).StatusCode);

        using (HttpResponseMessage added = await http.PutAsJsonAsync("/routes/second", new { Listen = new[] { $"127.0.0.1:{second}" }, ClusterId = "backend" }))
        {
            Assert.Equal(HttpStatusCode.Accepted, added.StatusCode);
        }

        await sample.WaitForLineAsync(new Regex($@"TCP route second listening on 127\.0\.0\.1:{second}\b"), TimeSpan.FromSeconds(10));
        using (Socket viaSecond = await Net.ConnectAsync(new IPEndPoint(IPAddress.Loopback, second), "127.0.0.152"))
        {
            await Net.AssertEchoAsync(viaSecond, "second");
        }

        using (HttpResponseMessage bad = await http.PutAsJsonAsync("/routes/bad", new { Listen = new[] { "nonsense" }, ClusterId = "backend" }))
        {
            Assert.Equal(HttpStatusCode.BadRequest, bad.StatusCode);
            using JsonDocument problem = JsonDocument.Parse(await bad.Content.ReadAsStringAsync());
            Assert.Contains("LoadFromMemory:Routes:bad:Listen:0: 'nonsense' is not an endpoint", problem.RootElement.GetProperty("detail").GetString());
        }

        // "first" now admits another client only: the open connection goes on, new ones from its client are refused.
        using (HttpResponseMessage changed = await http.PutAsJsonAsync("/routes/first", new { Listen = new[] { $"127.0.0.1:{first}" }, ClusterId = "backend", AllowedClients = new[] { "127.0.0.153/32" } }))
        {
            Assert.Equal(HttpStatusCode.Accepted, changed.StatusCode);
        }

        using (HttpResponseMessage removed = await http.DeleteAsync(new Uri("/routes/second", UriKind.Relative)))
        {
            Assert.Equal(HttpStatusCode.Accepted, removed.StatusCode);
        }

        await sample.WaitForLineAsync(new Regex($@"TCP route second stopped listening on 127\.0\.0\.1:{second}\b"), TimeSpan.FromSeconds(10));
        SocketException refused = await Assert.ThrowsAsync<SocketException>(() => Net.ConnectAsync(new IPEndPoint(IPAddress.Loopback, second), "127.0.0.152"));
        Assert.Equal(SocketError.ConnectionRefused, refused.SocketErrorCode);
        await Net.AssertRefusedAsync(new IPEndPoint(IPAddress.Loopback, first), "127.0.0.151", timeout: TimeSpan.FromSeconds(2));
        await Net.AssertEchoAsync(open, "first, still open");
        Assert.Equal(HttpStatusCode.OK, (await http.GetAsync(new Uri("/readyz", UriKind.Relative))).StatusCode);
    }

    private static ChildProcess StartSample(ProxyBackend backend, int listenPort)
    {
        string dll = Path.Combine(RepoPaths.SampleOutput("CodeRoutes"), "CodeRoutes.dll");
        if (!File.Exists(dll))
        {
            throw new FileNotFoundException($"The sample is not built: {dll}. Build the solution first.", dll);
        }

        string dotnet = Environment.GetEnvironmentVariable("DOTNET_HOST_PATH") is { Length: > 0 } host && File.Exists(host) ? host : "dotnet";
        var environment = new Dictionary<string, string>
        {
            ["DOTNET_NOLOGO"] = "1",
            ["ASPNETCORE_ENVIRONMENT"] = "Production",
            ["Logging__Console__FormatterName"] = "simple",
        };
        foreach ((string key, string value) in AmbientTransport.ChildEnvironment())
        {
            environment[key] = value;
        }

        return ChildProcess.Start(
            dotnet,
            [dll, "--urls", "http://127.0.0.1:0", "--Backend", backend.Address, "--Listen", $"127.0.0.1:{listenPort}"],
            Path.GetDirectoryName(dll)!,
            environment,
            name: "CodeRoutes");
    }

    [GeneratedRegex(@"Now listening on: http://127\.0\.0\.1:(\d+)")]
    private static partial Regex HttpListening();
}
