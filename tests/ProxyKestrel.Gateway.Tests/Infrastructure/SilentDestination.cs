using System.Net;
using System.Net.Sockets;

namespace ProxyKestrel.Gateway.Tests.Infrastructure;

/// <summary>
/// A listener whose accept queue is full and never drained: Linux then drops new SYNs, so a connect to it hangs
/// as it would towards a host that does not answer.
/// </summary>
internal sealed class SilentDestination : IDisposable
{
    private readonly Socket _listener;
    private readonly List<Socket> _fillers = [];

    private SilentDestination(Socket listener) => _listener = listener;

    public IPEndPoint EndPoint => (IPEndPoint)_listener.LocalEndPoint!;

    public static SilentDestination Create()
    {
        var listener = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        listener.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        listener.Listen(0);
        var destination = new SilentDestination(listener);
        for (int i = 0; i < 8; i++)
        {
            var filler = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp) { Blocking = false };
            try
            {
                filler.Connect(destination.EndPoint);
            }
            catch (SocketException)
            {
                // In progress, or dropped once the queue is full: either way it holds a slot or proves it is full.
            }

            destination._fillers.Add(filler);
        }

        return destination;
    }

    public void Dispose()
    {
        foreach (Socket filler in _fillers)
        {
            filler.Dispose();
        }

        _listener.Dispose();
    }
}
