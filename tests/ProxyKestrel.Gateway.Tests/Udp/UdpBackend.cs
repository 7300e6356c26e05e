using System.Buffers;
using System.Collections.Concurrent;
using System.Net;
using System.Net.Sockets;
using System.Text;

namespace ProxyKestrel.Gateway.Tests.Udp;

/// <summary>
/// A UDP backend on 127.0.0.1: records each datagram (its sender, the PROXY header it starts with, if any, and the
/// payload) and answers <c>NAME CLIENT-IP CLIENT-PORT PAYLOAD</c>, the client being the header's source when there is
/// one, else the sender. Silent: records but never answers.
/// </summary>
internal sealed class UdpBackend : IAsyncDisposable
{
    private readonly Socket _socket;
    private readonly CancellationTokenSource _stop = new();
    private readonly Task _loop;

    private UdpBackend(string name, bool silent)
    {
        Name = name;
        Silent = silent;
        _socket = new Socket(AddressFamily.InterNetwork, SocketType.Dgram, ProtocolType.Udp);
        _socket.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        _loop = Task.Run(LoopAsync);
    }

    public string Name { get; }

    public bool Silent { get; }

    public int Port => ((IPEndPoint)_socket.LocalEndPoint!).Port;

    public string Address => $"udp://127.0.0.1:{Port}";

    public ConcurrentQueue<Received> Datagrams { get; } = new();

    public static UdpBackend Start(string name, bool silent = false) => new(name, silent);

    private async Task LoopAsync()
    {
        byte[] buffer = new byte[70_000];
        while (!_stop.IsCancellationRequested)
        {
            SocketReceiveFromResult result;
            try
            {
                result = await _socket.ReceiveFromAsync(buffer, new IPEndPoint(IPAddress.Any, 0), _stop.Token);
            }
            catch (Exception e) when (e is OperationCanceledException or ObjectDisposedException or SocketException)
            {
                return;
            }

            var sender = (IPEndPoint)result.RemoteEndPoint;
            byte[] datagram = buffer.AsSpan(0, result.ReceivedBytes).ToArray();
            var sequence = new ReadOnlySequence<byte>(datagram);
            Received received;
            if (ProxyHeaderParser.Parse(sequence, new ProxyHeaderParserOptions { MaxHeaderSize = ProxyHeaderParserOptions.MaxMaxHeaderSize }, out ProxyHeader header, out _) == ProxyParseStatus.Complete)
            {
                received = new Received(sender, datagram[..header.Length], header.Version, header.Command, header.Transport, header.GetSourceEndPoint(), header.GetDestinationEndPoint(), datagram[header.Length..]);
            }
            else
            {
                received = new Received(sender, [], null, null, null, null, null, datagram);
            }

            Datagrams.Enqueue(received);
            if (!Silent)
            {
                IPEndPoint client = received.Source ?? sender;
                byte[] reply = [.. Encoding.ASCII.GetBytes($"{Name} {client.Address} {client.Port} "), .. received.Payload];
                try
                {
                    await _socket.SendToAsync(reply, sender);
                }
                catch (SocketException)
                {
                    // The sender is gone.
                }
            }
        }
    }

    public async ValueTask DisposeAsync()
    {
        _stop.Cancel();
        _socket.Dispose();
        await _loop;
        _stop.Dispose();
    }

    /// <summary>One datagram as received: <see cref="Header"/> is empty when it had no PROXY header.</summary>
    internal sealed record Received(
        IPEndPoint Sender,
        byte[] Header,
        ProxyProtocolVersion? Version,
        ProxyCommand? Command,
        ProxyTransport? Transport,
        IPEndPoint? Source,
        IPEndPoint? Destination,
        byte[] Payload);
}
