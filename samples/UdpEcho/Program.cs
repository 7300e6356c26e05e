using System.Diagnostics.CodeAnalysis;
using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Text;
using ProxyKestrel.ProxyProtocol;

// A UDP echo server behind a proxy that prefixes each datagram with a PROXY v2 header: every datagram is answered,
// to the address it came from, with "<client-ip> <client-port> <payload>", the client being the one the header
// announces (or the real sender when there is no header). Dropped datagrams are logged on stderr, one line each.
//
//   dotnet run --project samples/UdpEcho -- --listen 127.0.0.1:9000 [--trusted CIDR]... [--mode Required|Optional]
if (!TryParse(args, out IPEndPoint? listen, out ProxyProtocolOptions options, out string? usage))
{
    Console.Error.WriteLine(usage);
    Console.Error.WriteLine("usage: UdpEcho --listen ADDRESS:PORT [--trusted CIDR]... [--mode Required|Optional]");
    return 2;
}

var errors = new List<string>();
if (!ProxyDatagramReceiver.TryCreate(options, "options", errors, out ProxyDatagramReceiver? receiver))
{
    errors.ForEach(Console.Error.WriteLine);
    return 2;
}

using var cancel = new CancellationTokenSource();
Console.CancelKeyPress += (_, e) =>
{
    e.Cancel = true;
    cancel.Cancel();
};

using var socket = new Socket(listen.AddressFamily, SocketType.Dgram, ProtocolType.Udp);
socket.Bind(listen);
Console.WriteLine($"listening on {socket.LocalEndPoint}");

byte[] buffer = new byte[65536];
byte[] reply = new byte[buffer.Length + 64];
var remote = new SocketAddress(socket.AddressFamily);
while (!cancel.IsCancellationRequested)
{
    ProxyDatagramReceiveResult received;
    try
    {
        received = await socket.ReceiveProxyDatagramAsync(buffer, remote, receiver, cancel.Token);
    }
    catch (OperationCanceledException)
    {
        break;
    }
    catch (SocketException e) when (e.SocketErrorCode is SocketError.ConnectionReset or SocketError.MessageSize)
    {
        continue; // an ICMP error for an earlier reply, or an oversized datagram: nothing to answer
    }

    ProxyDatagram datagram = received.Datagram;
    if (received.Status == ProxyDatagramStatus.Rejected)
    {
        string error = datagram.Error == ProxyParseError.None ? string.Empty : $" ({datagram.Error})";
        Console.Error.WriteLine($"dropped {received.ReceivedBytes} bytes from {datagram.GetClientEndPoint(remote)}: {datagram.Rejection}{error}");
        continue;
    }

    IPEndPoint client = datagram.GetClientEndPoint(remote);
    int length = Encoding.ASCII.GetBytes(string.Create(CultureInfo.InvariantCulture, $"{client.Address} {client.Port} "), reply);
    datagram.Payload.Span.CopyTo(reply.AsSpan(length));
    await socket.SendToAsync(reply.AsMemory(0, length + datagram.Payload.Length), SocketFlags.None, remote);
}

return 0;

static bool TryParse(string[] args, [NotNullWhen(true)] out IPEndPoint? listen, out ProxyProtocolOptions options, out string? problem)
{
    listen = null;
    options = new ProxyProtocolOptions();
    problem = null;
    var trusted = new List<string>();
    for (int i = 0; i < args.Length; i++)
    {
        string? value = i + 1 < args.Length ? args[i + 1] : null;
        switch (args[i])
        {
            case "--listen" when value is not null && IPEndPoint.TryParse(value, out IPEndPoint? endPoint):
                listen = endPoint;
                break;
            case "--trusted" when value is not null:
                trusted.Add(value);
                break;
            case "--mode" when Enum.TryParse(value, ignoreCase: true, out ProxyProtocolMode mode) && Enum.IsDefined(mode):
                options.Mode = mode;
                break;
            default:
                problem = $"bad argument '{args[i]}'{(value is null ? string.Empty : $" '{value}'")}";
                return false;
        }

        i++;
    }

    if (trusted.Count > 0)
    {
        options.TrustedNetworks = trusted;
    }

    problem = listen is null ? "--listen ADDRESS:PORT is required" : null;
    return listen is not null;
}
