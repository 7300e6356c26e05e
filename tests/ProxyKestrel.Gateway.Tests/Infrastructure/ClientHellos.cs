using System.Net;
using System.Net.Security;
using System.Net.Sockets;

namespace ProxyKestrel.Gateway.Tests.Infrastructure;

/// <summary>Real TLS ClientHellos (from <see cref="SslStream"/>), as bytes a test can send or parse.</summary>
internal static class ClientHellos
{
    /// <summary>The first record of the ClientHello SslStream sends for <paramref name="serverName"/>, offering <paramref name="alpn"/>.</summary>
    public static async Task<byte[]> CaptureAsync(string serverName, params string[] alpn)
    {
        using var listener = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        listener.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        listener.Listen(1);
        using var client = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        await client.ConnectAsync(listener.LocalEndPoint!);
        using Socket server = await listener.AcceptAsync();
        var tls = new SslStream(new NetworkStream(client, ownsSocket: false));
        var options = new SslClientAuthenticationOptions { TargetHost = serverName };
        if (alpn.Length > 0)
        {
            options.ApplicationProtocols = [.. alpn.Select(p => new SslApplicationProtocol(p))];
        }

        Task handshake = tls.AuthenticateAsClientAsync(options);

        byte[] buffer = new byte[64 * 1024];
        int filled = 0;
        while (filled < 5 || filled < 5 + ((buffer[3] << 8) | buffer[4]))
        {
            using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(10));
            filled += await server.ReceiveAsync(buffer.AsMemory(filled), SocketFlags.None, cts.Token);
        }

        server.Close();
        await Assert.ThrowsAnyAsync<Exception>(() => handshake);
        await tls.DisposeAsync();
        return buffer[..filled];
    }
}
