using System.Net;
using System.Net.Sockets;
using System.Text;

namespace ProxyKestrel.Gateway.Tests.RealPeers;

/// <summary>A raw TCP client bound to a chosen loopback address (127.0.0.N), for the real-peer tests.</summary>
internal sealed class RawClient : IAsyncDisposable
{
    private readonly Socket _socket;
    private readonly NetworkStream _stream;
    private readonly StreamReader _reader;

    private RawClient(Socket socket)
    {
        _socket = socket;
        _stream = new NetworkStream(socket, ownsSocket: true);
        _reader = new StreamReader(_stream, Encoding.Latin1);
    }

    /// <summary>The client's own port (what the receiver should see as the source port).</summary>
    public int LocalPort => ((IPEndPoint)_socket.LocalEndPoint!).Port;

    /// <summary>Connects from <paramref name="localAddress"/> to 127.0.0.1:<paramref name="port"/>.</summary>
    public static async Task<RawClient> ConnectAsync(string localAddress, int port)
    {
        var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        try
        {
            socket.Bind(new IPEndPoint(IPAddress.Parse(localAddress), 0));
            await socket.ConnectAsync(new IPEndPoint(IPAddress.Loopback, port)).WaitAsync(TimeSpan.FromSeconds(10));
        }
        catch
        {
            socket.Dispose();
            throw;
        }

        return new RawClient(socket);
    }

    /// <summary>Sends <paramref name="text"/> (Latin-1).</summary>
    public async Task SendAsync(string text)
    {
        await _stream.WriteAsync(Encoding.Latin1.GetBytes(text)).AsTask().WaitAsync(TimeSpan.FromSeconds(10));
    }

    /// <summary>Sends <paramref name="bytes"/> in one write (a PROXY header that the receiver peeks at whole).</summary>
    public async Task SendAsync(ReadOnlyMemory<byte> bytes)
    {
        await _stream.WriteAsync(bytes).AsTask().WaitAsync(TimeSpan.FromSeconds(10));
    }

    /// <summary>Reads one line (null at the end of the stream), 10 s at most.</summary>
    public async Task<string?> ReadLineAsync(TimeSpan? timeout = null)
    {
        using var cts = new CancellationTokenSource(timeout ?? TimeSpan.FromSeconds(10));
        return await _reader.ReadLineAsync(cts.Token);
    }

    /// <summary>Reads everything up to the end of the stream, 10 s at most.</summary>
    public async Task<string> ReadToEndAsync()
    {
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(10));
        return await _reader.ReadToEndAsync(cts.Token);
    }

    /// <summary>Sends <c>GET / HTTP/1.0</c> and returns the response body (the receiver closes after it).</summary>
    public static async Task<(string Body, int ClientPort)> GetAsync(string localAddress, int port)
    {
        await using RawClient client = await ConnectAsync(localAddress, port);
        int clientPort = client.LocalPort;
        await client.SendAsync("GET / HTTP/1.0\r\nHost: test\r\n\r\n");
        string response = await client.ReadToEndAsync();
        int split = response.IndexOf("\r\n\r\n", StringComparison.Ordinal);
        Assert.True(split >= 0 && response.StartsWith("HTTP/1.", StringComparison.Ordinal) && response.Contains(" 200 ", StringComparison.Ordinal),
            $"not an HTTP 200 response: '{response}'");
        return (response[(split + 4)..].Trim(), clientPort);
    }

    public async ValueTask DisposeAsync()
    {
        _reader.Dispose();
        await _stream.DisposeAsync();
    }
}
