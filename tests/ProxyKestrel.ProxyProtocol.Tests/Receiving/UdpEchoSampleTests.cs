using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Text;
using System.Text.RegularExpressions;
using static ProxyKestrel.ProxyProtocol.Tests.Receiving.DatagramBytes;

namespace ProxyKestrel.ProxyProtocol.Tests.Receiving;

/// <summary>Runs samples/UdpEcho as a process (<c>dotnet UdpEcho.dll --listen 127.0.0.1:0</c>) and talks to it over loopback UDP.</summary>
public partial class UdpEchoSampleTests
{
    private static async Task<(ChildProcess Process, IPEndPoint EndPoint)> StartAsync(params string[] arguments)
    {
        string dll = Path.Combine(RepoPaths.SampleOutput("UdpEcho"), "UdpEcho.dll");
        Assert.True(File.Exists(dll), $"The sample is not built: {dll}. Build the test project first.");
        ChildProcess process = ChildProcess.Start("dotnet", [dll, "--listen", "127.0.0.1:0", .. arguments], Path.GetDirectoryName(dll), [new("DOTNET_NOLOGO", "1")], name: "UdpEcho");
        try
        {
            Match listening = await process.WaitForLineAsync(ListeningRegex(), TimeSpan.FromSeconds(30));
            return (process, new IPEndPoint(IPAddress.Loopback, int.Parse(listening.Groups[1].Value, CultureInfo.InvariantCulture)));
        }
        catch
        {
            await process.DisposeAsync();
            throw;
        }
    }

    private static Socket ClientOn(string address)
    {
        var socket = new Socket(AddressFamily.InterNetwork, SocketType.Dgram, ProtocolType.Udp);
        socket.Bind(new IPEndPoint(IPAddress.Parse(address), 0));
        return socket;
    }

    private static async Task<string> ReplyAsync(Socket socket)
    {
        byte[] buffer = new byte[2048];
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(10));
        int received = await socket.ReceiveAsync(buffer, SocketFlags.None, timeout.Token);
        return Encoding.ASCII.GetString(buffer, 0, received);
    }

    [Fact]
    public async Task UdpEcho_V2Udp4FromTrustedProxy_AnswersWithAnnouncedClient()
    {
        (ChildProcess process, IPEndPoint server) = await StartAsync();
        await using ChildProcess _ = process;
        using Socket proxy = ClientOn("127.0.0.2");

        await proxy.SendToAsync(Udp4("hello"u8), SocketFlags.None, server);

        Assert.Equal("192.0.2.7 4242 hello", await ReplyAsync(proxy));
    }

    [Fact]
    public async Task UdpEcho_DatagramWithoutHeader_DroppedAndLoggedWhileTheNextIsAnswered()
    {
        (ChildProcess process, IPEndPoint server) = await StartAsync();
        await using ChildProcess _ = process;
        using Socket proxy = ClientOn("127.0.0.2");

        await proxy.SendToAsync("no header"u8.ToArray(), SocketFlags.None, server);
        await proxy.SendToAsync(Udp4("hello"u8), SocketFlags.None, server);

        // Loopback UDP keeps the order: had the first datagram been answered, its reply would come first.
        Assert.Equal("192.0.2.7 4242 hello", await ReplyAsync(proxy));
        Match dropped = await process.WaitForLineAsync(DroppedRegex(), TimeSpan.FromSeconds(10));
        Assert.Equal("MissingHeader", dropped.Groups[1].Value);
        Assert.Single(process.Output.Split('\n'), line => line.StartsWith("dropped", StringComparison.Ordinal));
    }

    [Fact]
    public async Task UdpEcho_OptionalModeWithoutHeader_AnswersWithRealSender()
    {
        (ChildProcess process, IPEndPoint server) = await StartAsync("--mode", "Optional");
        await using ChildProcess _ = process;
        using Socket peer = ClientOn("127.0.0.3");
        int port = ((IPEndPoint)peer.LocalEndPoint!).Port;

        await peer.SendToAsync("hi"u8.ToArray(), SocketFlags.None, server);

        Assert.Equal($"127.0.0.3 {port} hi", await ReplyAsync(peer));
    }

    [Fact]
    public async Task UdpEcho_PeerOutsideTrustedNetworks_Dropped()
    {
        (ChildProcess process, IPEndPoint server) = await StartAsync("--trusted", "127.0.0.2/32");
        await using ChildProcess _ = process;
        using Socket untrusted = ClientOn("127.0.0.3");
        using Socket proxy = ClientOn("127.0.0.2");

        await untrusted.SendToAsync(Udp4("x"u8), SocketFlags.None, server);
        Match dropped = await process.WaitForLineAsync(DroppedRegex(), TimeSpan.FromSeconds(10));
        await proxy.SendToAsync(Udp4("hello"u8), SocketFlags.None, server);

        Assert.Equal("UntrustedPeer", dropped.Groups[1].Value);
        Assert.Equal("192.0.2.7 4242 hello", await ReplyAsync(proxy));
        Assert.Equal(0, untrusted.Available);
    }

    [GeneratedRegex(@"^listening on 127\.0\.0\.1:(\d+)$")]
    private static partial Regex ListeningRegex();

    [GeneratedRegex(@"^dropped \d+ bytes from \S+: (\w+)")]
    private static partial Regex DroppedRegex();
}
