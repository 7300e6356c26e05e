using System.Collections.Concurrent;
using System.Net;
using System.Net.Sockets;

namespace ProxyKestrel.Gateway.Tests.Http;

/// <summary>
/// An HTTP/1.1 keep-alive client whose connections leave from a given loopback address (e.g. 127.0.0.31), so the
/// gateway sees distinct clients; records the local port of every connection it opened.
/// </summary>
internal sealed class BoundClient : IDisposable
{
    private readonly HttpClient _client;
    private readonly ConcurrentQueue<int> _ports = new();

    public BoundClient(string address, int gatewayPort)
    {
        Address = address;
        var local = new IPEndPoint(IPAddress.Parse(address), 0);
        var handler = new SocketsHttpHandler
        {
            UseProxy = false,
            PooledConnectionIdleTimeout = TimeSpan.FromMinutes(5),
            ConnectCallback = async (context, cancellationToken) =>
            {
                var socket = new Socket(SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
                try
                {
                    socket.Bind(local);
                    await socket.ConnectAsync(context.DnsEndPoint, cancellationToken);
                    _ports.Enqueue(((IPEndPoint)socket.LocalEndPoint!).Port);
                    return new NetworkStream(socket, ownsSocket: true);
                }
                catch
                {
                    socket.Dispose();
                    throw;
                }
            },
        };
        _client = new HttpClient(handler) { BaseAddress = new Uri($"http://127.0.0.1:{gatewayPort}/"), Timeout = TimeSpan.FromSeconds(30) };
    }

    /// <summary>The address connections leave from.</summary>
    public string Address { get; }

    /// <summary>The local ports of the connections opened so far, in order.</summary>
    public IReadOnlyList<int> Ports => [.. _ports];

    /// <summary>GET <paramref name="path"/>; the body, after asserting 200.</summary>
    public async Task<string> GetAsync(string path = "/")
    {
        using HttpResponseMessage response = await _client.GetAsync(path);
        string body = await response.Content.ReadAsStringAsync();
        Assert.True(response.IsSuccessStatusCode, $"{Address}: {(int)response.StatusCode} {body}");
        return body;
    }

    public void Dispose() => _client.Dispose();
}
