using System.Net;
using System.Net.Sockets;
using System.Text.RegularExpressions;
using ProxyKestrel.Gateway.Tests.Infrastructure;
using ProxyKestrel.Gateway.Tests.Infrastructure.Transports;

namespace ProxyKestrel.Gateway.Tests.Demo;

/// <summary>
/// <c>eng/demo.sh --once</c>, the README's main job, end to end: it builds samples/Gateway, starts a throwaway Postfix
/// (postscreen on 127.0.0.1:10024 with <c>postscreen_upstream_proxy_protocol = haproxy</c>) and the sample as
/// shipped (2525 -> 10024, send-proxy v1), sends one mail from 127.0.0.2 and exits 0 once it is delivered. The
/// script passes <c>TcpProxy__Transport</c> on to the sample, so the test proves the demo on each transport. A
/// missing Postfix or swaks is installed by the script, or the script and so the test fail; never a skip.
/// </summary>
[Collection(FixedPorts.Name)]
public sealed partial class DemoScriptTests
{
    /// <summary>The script's own copy of Postfix's line (the streamed copy starts with "postfix | ").</summary>
    [GeneratedRegex(@"^(?!postfix \| )[^\n]*postfix/postscreen\[\d+\]: CONNECT from \[127\.0\.0\.2\]:(?<port>\d+) to \[127\.0\.0\.1\]:2525$", RegexOptions.Multiline)]
    private static partial Regex ConnectLine();

    [GeneratedRegex(@"^==> Mail (?<id>[0-9A-Za-z]+) delivered", RegexOptions.Multiline)]
    private static partial Regex DeliveredLine();

    [GeneratedRegex(@"^gateway \| [^\n]*TCP routes use the (?<transport>\w+) transport", RegexOptions.Multiline)]
    private static partial Regex TransportLine();

    [Fact]
    public async Task DemoSh_Once_DeliversTheMailAndPrintsPostfixsAndTheGatewaysLinesForTheClient()
    {
        string root = RepoPaths.Root;
        string bash = ChildProcess.FindExecutable("bash") ?? throw new InvalidOperationException("bash not found");
        string output;
        int exitCode;
        await using (ChildProcess demo = ChildProcess.Start(
            bash,
            [Path.Combine(root, "eng", "demo.sh"), "--once"],
            root,
            AmbientTransport.ChildEnvironment(),
            name: "eng/demo.sh --once",
            maxCapturedChars: 1_000_000))
        {
            try
            {
                // The build is incremental after the solution's; a first build on 2 cores takes about a minute.
                exitCode = await demo.WaitForExitAsync(TimeSpan.FromMinutes(5));
            }
            catch (OperationCanceledException)
            {
                Assert.Fail($"eng/demo.sh --once did not finish within 5 minutes. Output:\n{demo.Output}");
                throw;
            }

            output = demo.Output;
        }

        Assert.True(exitCode == 0, $"eng/demo.sh --once exited with {exitCode}. Output:\n{output}");

        // Postfix saw the client (127.0.0.2 and its port) and the address it dialled (the gateway's 127.0.0.1:2525)
        // from the gateway's v1 header; the gateway's line for the same client address and port is printed too.
        Match connect = ConnectLine().Match(output);
        Assert.True(connect.Success, $"no CONNECT line from [127.0.0.2] printed. Output:\n{output}");
        string port = connect.Groups["port"].Value;
        // The printed access-log line, in HAProxy's tcplog field order: route smtp, cluster postfix, destination local,
        // a normal end, the v1 header's client.
        var gatewayLine = new Regex(
            $@"^(?!gateway \| )\w+: ProxyKestrel\.Gateway\.AccessLog\[113\] [^\n]*\b127\.0\.0\.2:{port} \[\d{{2}}/\w{{3}}/\d{{4}}:\d{{2}}:\d{{2}}:\d{{2}}\.\d{{3}}\] smtp postfix/local 0/\d+/\d+ \d+ -- \d+/\d+/\d+/\d+/0 0/0$",
            RegexOptions.Multiline);
        Assert.True(gatewayLine.IsMatch(output), $"no access-log line for 127.0.0.2:{port} printed. Output:\n{output}");

        // The mail the script reports was delivered, as Postfix's own log (streamed by the script) says.
        Match delivered = DeliveredLine().Match(output);
        Assert.True(delivered.Success, $"no delivery reported. Output:\n{output}");
        Assert.Matches(
            new Regex($@"^postfix \| [^\n]*postfix/discard\[\d+\]: {delivered.Groups["id"].Value}: to=<postmaster@localhost>,[^\n]* status=sent", RegexOptions.Multiline),
            output);

        // The sample ran on this test case's transport.
        Match transport = TransportLine().Match(output);
        Assert.True(transport.Success, $"the gateway did not log its transport. Output:\n{output}");
        Assert.Equal(AmbientTransport.Current.ToString(), transport.Groups["transport"].Value);

        // Nothing is left running: Postfix and the gateway are stopped.
        Assert.False(Accepts(10024), "Postfix still listens on 127.0.0.1:10024 after the script exited");
        Assert.False(Accepts(2525), "the gateway still listens on port 2525 after the script exited");
    }

    private static bool Accepts(int port)
    {
        using var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        try
        {
            socket.Connect(new IPEndPoint(IPAddress.Loopback, port));
            return true;
        }
        catch (SocketException)
        {
            return false;
        }
    }
}
