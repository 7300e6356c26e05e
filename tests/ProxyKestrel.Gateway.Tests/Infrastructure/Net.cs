using System.Collections.Concurrent;
using System.Net;
using System.Net.Sockets;
using System.Text;
using Microsoft.Extensions.Logging;

namespace ProxyKestrel.Gateway.Tests.Infrastructure;

/// <summary>Client-side socket helpers for the gateway tests; every wait is bounded.</summary>
internal static class Net
{
    public static readonly TimeSpan Timeout = TimeSpan.FromSeconds(10);

    private static readonly System.Collections.Concurrent.ConcurrentBag<Socket> ReservedPorts = [];

    /// <summary>Connects to <paramref name="target"/>, from <paramref name="from"/> when given.</summary>
    public static async Task<Socket> ConnectAsync(IPEndPoint target, string? from = null)
    {
        var socket = new Socket(target.AddressFamily, SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
        try
        {
            if (from is not null)
            {
                socket.Bind(new IPEndPoint(IPAddress.Parse(from), 0));
            }

            await socket.ConnectAsync(target).WaitAsync(Timeout);
            return socket;
        }
        catch
        {
            socket.Dispose();
            throw;
        }
    }

    public static async Task SendAllAsync(Socket socket, ReadOnlyMemory<byte> data)
    {
        while (!data.IsEmpty)
        {
            int sent = await socket.SendAsync(data, SocketFlags.None);
            data = data[sent..];
        }
    }

    /// <summary>Receives exactly <paramref name="count"/> bytes, failing on EOF or timeout.</summary>
    public static async Task<byte[]> ReceiveExactlyAsync(Socket socket, int count, TimeSpan? timeout = null)
    {
        byte[] buffer = new byte[count];
        using var cts = new CancellationTokenSource(timeout ?? Timeout);
        int filled = 0;
        while (filled < count)
        {
            int n = await socket.ReceiveAsync(buffer.AsMemory(filled), SocketFlags.None, cts.Token);
            if (n == 0)
            {
                throw new EndOfStreamException($"EOF after {filled} of {count} bytes.");
            }

            filled += n;
        }

        return buffer;
    }

    /// <summary>Sends <paramref name="text"/> and expects it echoed back.</summary>
    public static async Task AssertEchoAsync(Socket socket, string text)
    {
        byte[] data = Encoding.ASCII.GetBytes(text);
        await SendAllAsync(socket, data);
        byte[] echoed = await ReceiveExactlyAsync(socket, data.Length);
        Assert.Equal(text, Encoding.ASCII.GetString(echoed));
    }

    /// <summary>Expects EOF next (no data), within the timeout.</summary>
    public static async Task AssertEofAsync(Socket socket, TimeSpan? timeout = null)
    {
        using var cts = new CancellationTokenSource(timeout ?? Timeout);
        byte[] buffer = new byte[1];
        int n = await socket.ReceiveAsync(buffer, SocketFlags.None, cts.Token);
        Assert.Equal(0, n);
    }

    /// <summary>
    /// Expects the peer to close (EOF or reset) without sending any byte, within <paramref name="timeout"/>.
    /// </summary>
    public static async Task AssertClosedWithoutDataAsync(Socket socket, TimeSpan? timeout = null)
    {
        using var cts = new CancellationTokenSource(timeout ?? TimeSpan.FromSeconds(5));
        byte[] buffer = new byte[256];
        try
        {
            int n = await socket.ReceiveAsync(buffer, SocketFlags.None, cts.Token);
            Assert.True(n == 0, $"expected the gateway to close the connection, got {n} byte(s)");
        }
        catch (SocketException e) when (e.SocketErrorCode is SocketError.ConnectionReset or SocketError.ConnectionAborted)
        {
            // Closed with RST: fine.
        }
        catch (OperationCanceledException)
        {
            Assert.Fail("the gateway did not close the connection in time");
        }
    }

    /// <summary>
    /// Connects from <paramref name="from"/>, sends <paramref name="data"/> (if any) and expects the gateway to close
    /// the connection without sending a byte. A reset that arrives while connecting or sending counts as closed.
    /// </summary>
    public static async Task AssertRefusedAsync(IPEndPoint target, string from, byte[]? data = null, TimeSpan? timeout = null)
    {
        Socket socket;
        try
        {
            socket = await ConnectAsync(target, from);
        }
        catch (SocketException e) when (e.SocketErrorCode is SocketError.ConnectionReset or SocketError.ConnectionAborted)
        {
            return;
        }

        using (socket)
        {
            if (data is not null)
            {
                try
                {
                    await SendAllAsync(socket, data);
                }
                catch (SocketException e) when (e.SocketErrorCode is SocketError.ConnectionReset or SocketError.ConnectionAborted or SocketError.Shutdown)
                {
                    // Already closed by the gateway.
                }
            }

            await AssertClosedWithoutDataAsync(socket, timeout);
        }
    }

    /// <summary>Expects the peer to close (EOF or reset), draining any data first, within <paramref name="timeout"/>.</summary>
    public static async Task AssertClosedAsync(Socket socket, TimeSpan timeout)
    {
        using var cts = new CancellationTokenSource(timeout);
        byte[] buffer = new byte[64 * 1024];
        try
        {
            while (await socket.ReceiveAsync(buffer, SocketFlags.None, cts.Token) > 0)
            {
            }
        }
        catch (SocketException e) when (e.SocketErrorCode is SocketError.ConnectionReset or SocketError.ConnectionAborted)
        {
        }
        catch (OperationCanceledException)
        {
            Assert.Fail($"the connection was not closed within {timeout}");
        }
    }

    /// <summary>Polls <paramref name="condition"/> every 20 ms until true or the timeout.</summary>
    public static async Task WaitUntilAsync(Func<bool> condition, string what, TimeSpan? timeout = null)
    {
        long deadline = Environment.TickCount64 + (long)(timeout ?? Timeout).TotalMilliseconds;
        while (!condition())
        {
            if (Environment.TickCount64 > deadline)
            {
                Assert.Fail($"timed out waiting for: {what}");
            }

            await Task.Delay(20);
        }
    }

    /// <summary>Polls an async <paramref name="condition"/> every 50 ms until true or the timeout.</summary>
    public static async Task WaitUntilAsync(Func<Task<bool>> condition, string what, TimeSpan? timeout = null)
    {
        long deadline = Environment.TickCount64 + (long)(timeout ?? Timeout).TotalMilliseconds;
        while (!await condition())
        {
            if (Environment.TickCount64 > deadline)
            {
                Assert.Fail($"timed out waiting for: {what}");
            }

            await Task.Delay(50);
        }
    }

    /// <summary>
    /// A loopback port nobody listens on: bound but never listening, and kept bound for the whole test run, so
    /// connects are refused and no other test can take the port meanwhile.
    /// </summary>
    public static int ClosedPort()
    {
        var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        socket.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        ReservedPorts.Add(socket);
        return ((IPEndPoint)socket.LocalEndPoint!).Port;
    }

    /// <summary>All messages of an exception and its inner exceptions.</summary>
    public static string AllMessages(Exception e)
    {
        var text = new StringBuilder();
        var pending = new Stack<Exception>();
        pending.Push(e);
        while (pending.Count > 0)
        {
            Exception current = pending.Pop();
            text.AppendLine(current.Message);
            if (current is AggregateException aggregate)
            {
                foreach (Exception inner in aggregate.InnerExceptions)
                {
                    pending.Push(inner);
                }
            }
            else if (current.InnerException is { } inner)
            {
                pending.Push(inner);
            }
        }

        return text.ToString();
    }
}

/// <summary>Captures log entries (event id, level, message).</summary>
internal sealed class ListLoggerProvider : ILoggerProvider
{
    public ConcurrentQueue<(EventId EventId, LogLevel Level, string Category, string Message)> Entries { get; } = new();

    /// <summary>The structured state of each entry that has one (OpenTelemetry's log attributes), with its message.</summary>
    public ConcurrentQueue<(EventId EventId, string Category, string Message, IReadOnlyDictionary<string, object?> State)> Structured { get; } = new();

    public ILogger CreateLogger(string categoryName) => new ListLogger(this, categoryName);

    public void Dispose()
    {
    }

    private sealed class ListLogger(ListLoggerProvider owner, string category) : ILogger
    {
        public IDisposable? BeginScope<TState>(TState state)
            where TState : notnull => null;

        public bool IsEnabled(LogLevel logLevel) => true;

        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
        {
            string message = formatter(state, exception);
            if (state is IReadOnlyList<KeyValuePair<string, object?>> attributes)
            {
                var copy = new Dictionary<string, object?>(StringComparer.Ordinal);
                foreach (KeyValuePair<string, object?> attribute in attributes)
                {
                    copy[attribute.Key] = attribute.Value;
                }

                owner.Structured.Enqueue((eventId, category, message, copy));
            }

            owner.Entries.Enqueue((eventId, logLevel, category, message));
        }
    }
}
