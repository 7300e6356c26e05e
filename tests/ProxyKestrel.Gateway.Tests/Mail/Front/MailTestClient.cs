using System.Net;
using System.Net.Security;
using System.Net.Sockets;
using System.Text;

namespace ProxyKestrel.Gateway.Tests.Mail.Front;

/// <summary>
/// A line-based mail client bound to a chosen loopback address, for the mail front's tests: it reads CRLF lines and
/// can switch to TLS (STARTTLS or implicit), trusting any certificate (the tests make their own).
/// </summary>
internal sealed class MailTestClient : IAsyncDisposable
{
    // Dovecot's auth penalty (anvil) doubles the wait after each refused login from one address, up to 15 s.
    private static readonly TimeSpan s_timeout = TimeSpan.FromSeconds(30);
    private readonly Socket _socket;
    private Stream _stream;
    private readonly byte[] _buffer = new byte[16 * 1024];
    private int _start;
    private int _end;

    private MailTestClient(Socket socket)
    {
        _socket = socket;
        _stream = new NetworkStream(socket, ownsSocket: true);
    }

    /// <summary>The client's own address and port.</summary>
    public IPEndPoint LocalEndPoint => (IPEndPoint)_socket.LocalEndPoint!;

    /// <summary>Connects from <paramref name="localAddress"/> to 127.0.0.1:<paramref name="port"/>.</summary>
    public static async Task<MailTestClient> ConnectAsync(string localAddress, int port)
    {
        var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        try
        {
            socket.Bind(new IPEndPoint(IPAddress.Parse(localAddress), 0));
            await socket.ConnectAsync(new IPEndPoint(IPAddress.Loopback, port)).WaitAsync(s_timeout);
        }
        catch
        {
            socket.Dispose();
            throw;
        }

        return new MailTestClient(socket);
    }

    /// <summary>Sends <paramref name="text"/> (Latin-1) as it is.</summary>
    public async Task SendAsync(string text)
    {
        await _stream.WriteAsync(Encoding.Latin1.GetBytes(text)).AsTask().WaitAsync(s_timeout);
        await _stream.FlushAsync().WaitAsync(s_timeout);
    }

    /// <summary>Sends <paramref name="line"/> and a CRLF.</summary>
    public Task SendLineAsync(string line) => SendAsync(line + "\r\n");

    /// <summary>Sends a line, then reads the lines of the answer up to one starting with <paramref name="last"/>.</summary>
    public async Task<List<string>> CommandAsync(string line, string last)
    {
        await SendLineAsync(line);
        return await ReadUntilAsync(last);
    }

    /// <summary>Reads lines up to (and with) the first that starts with <paramref name="prefix"/>.</summary>
    public async Task<List<string>> ReadUntilAsync(string prefix)
    {
        var lines = new List<string>();
        while (true)
        {
            string line = await ReadLineAsync() ?? throw new InvalidOperationException($"The connection ended before a line starting with '{prefix}'; read: {string.Join(" | ", lines)}");
            lines.Add(line);
            if (line.StartsWith(prefix, StringComparison.Ordinal))
            {
                return lines;
            }
        }
    }

    /// <summary>Reads one line without its CRLF; null at the end of the stream.</summary>
    public async Task<string?> ReadLineAsync()
    {
        using var cts = new CancellationTokenSource(s_timeout);
        while (true)
        {
            int lf = Array.IndexOf(_buffer, (byte)'\n', _start, _end - _start);
            if (lf >= 0)
            {
                string line = Encoding.Latin1.GetString(_buffer, _start, lf - _start).TrimEnd('\r');
                _start = lf + 1;
                return line;
            }

            if (_start > 0)
            {
                Array.Copy(_buffer, _start, _buffer, 0, _end - _start);
                _end -= _start;
                _start = 0;
            }

            int count = await _stream.ReadAsync(_buffer.AsMemory(_end), cts.Token);
            if (count == 0)
            {
                return _end > _start ? throw new InvalidOperationException("The connection ended inside a line.") : null;
            }

            _end += count;
        }
    }

    /// <summary>Switches to TLS (after STARTTLS's go-ahead, or at once for implicit TLS); nothing may be buffered.</summary>
    public async Task StartTlsAsync(string serverName = "mail.example.test")
    {
        Assert.Equal(_start, _end);
        // The tests' own self-signed certificate (MailFrontCertificate), known by its subject.
        var tls = new SslStream(_stream, leaveInnerStreamOpen: false, (_, certificate, _, _) => certificate?.Subject == "CN=mail.example.test");
        await tls.AuthenticateAsClientAsync(new SslClientAuthenticationOptions { TargetHost = serverName }).WaitAsync(s_timeout);
        _stream = tls;
    }

    /// <summary>Reads to the end of the stream (what is left), 10 s at most; throws if the peer does not close.</summary>
    public async Task<string> ReadToEndAsync()
    {
        var text = new StringBuilder();
        while (await ReadLineAsync() is { } line)
        {
            text.Append(line).Append('\n');
        }

        return text.ToString();
    }

    public async ValueTask DisposeAsync() => await _stream.DisposeAsync();
}
