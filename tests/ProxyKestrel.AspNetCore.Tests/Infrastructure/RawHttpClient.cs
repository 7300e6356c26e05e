using System.Net;
using System.Net.Sockets;
using System.Text;
using System.Text.Json;

namespace ProxyKestrel.AspNetCore.Tests.Infrastructure;

/// <summary>A raw TCP client: bind a chosen 127.0.0.x source, write bytes exactly as given, read until the peer closes.</summary>
public static class RawHttpClient
{
    /// <summary>A plain HTTP/1.1 request that asks the server to close afterwards.</summary>
    public static byte[] GetRoot { get; } = Encoding.ASCII.GetBytes("GET / HTTP/1.1\r\nHost: test\r\nConnection: close\r\n\r\n");

    /// <summary>Connects from <paramref name="source"/> (port 0 = any) to 127.0.0.1:<paramref name="port"/>.</summary>
    public static async Task<Socket> ConnectAsync(int port, string source = "127.0.0.1")
    {
        var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
        socket.Bind(new IPEndPoint(IPAddress.Parse(source), 0));
        await socket.ConnectAsync(new IPEndPoint(IPAddress.Loopback, port));
        return socket;
    }

    /// <summary>Sends <paramref name="chunks"/> one write each, then reads everything until the server closes (or the timeout).</summary>
    public static async Task<string> ExchangeAsync(int port, string source, TimeSpan timeout, params byte[][] chunks)
    {
        using Socket socket = await ConnectAsync(port, source);
        try
        {
            foreach (byte[] chunk in chunks)
            {
                await socket.SendAsync(chunk);
            }
        }
        catch (SocketException)
        {
            // The server closed (or reset) the connection while we were still sending: read what it wrote, if anything.
        }

        return await ReadToEndAsync(socket, timeout);
    }

    /// <summary>Reads until the peer closes; a reset counts as a close. Returns what was received as text.</summary>
    public static async Task<string> ReadToEndAsync(Socket socket, TimeSpan timeout)
    {
        using var cts = new CancellationTokenSource(timeout);
        var received = new MemoryStream();
        byte[] buffer = new byte[8192];
        try
        {
            while (true)
            {
                int n = await socket.ReceiveAsync(buffer, SocketFlags.None, cts.Token);
                if (n == 0)
                {
                    break;
                }

                received.Write(buffer, 0, n);
            }
        }
        catch (SocketException)
        {
            // Reset by the peer: what arrived before stands.
        }

        return Encoding.UTF8.GetString(received.ToArray());
    }

    /// <summary>The JSON body of a complete HTTP response.</summary>
    public static JsonElement JsonBody(string response)
    {
        int start = response.IndexOf("\r\n\r\n", StringComparison.Ordinal);
        if (!response.StartsWith("HTTP/1.1 200", StringComparison.Ordinal) || start < 0)
        {
            throw new InvalidOperationException("Not a 200 response: " + response);
        }

        string body = response[(start + 4)..];
        // Chunked or not, the JSON object is between the first '{' and the last '}'.
        int open = body.IndexOf('{', StringComparison.Ordinal);
        int close = body.LastIndexOf('}');
        return JsonDocument.Parse(body[open..(close + 1)]).RootElement.Clone();
    }
}
