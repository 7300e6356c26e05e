using System.Buffers;
using System.IO.Pipelines;
using System.Net;
using Microsoft.AspNetCore.Connections;
using ProxyKestrel.AspNetCore.Tests.Infrastructure;
using ProxyKestrel.ProxyProtocol;

namespace ProxyKestrel.AspNetCore.Tests;

/// <summary>
/// The middleware on an in-memory connection whose FIN is placed exactly: the pipe completes after the last byte and
/// <see cref="ConnectionContext.ConnectionClosed"/> fires with it, as Kestrel's socket transport does. Deterministic
/// counterpart of <see cref="ProxyProtocolHalfCloseTests"/> (real sockets, where the kernel decides the timing).
/// </summary>
public sealed class ProxyProtocolConnectionMiddlewareFinTests
{
    private static readonly IPEndPoint Proxy = new(IPAddress.Loopback, 40000);

    /// <param name="finBeforeRead">True: every byte and the FIN are there before the middleware reads; false: they
    /// arrive while its read is pending.</param>
    [Theory]
    [MemberData(nameof(HalfClose.VersionsAndFinPlacement), MemberType = typeof(HalfClose))]
    public async Task OnConnection_HeaderSplitAtEveryPointThenRequestThenFin_PassesOnRequestAndDefersTheClose(int version, bool finBeforeRead)
    {
        byte[] header = HalfClose.Header(version);
        byte[] request = RawHttpClient.GetRoot;
        for (int split = 1; split <= header.Length; split++)
        {
            using var connection = new FinConnection();
            var seen = new NextObservation();
            var middleware = CreateMiddleware(seen.RunAsync, new CapturingLoggerProvider());
            byte[][] chunks = [header[..split], ConnectionProbe.Concat(header[split..], request)];
            Task running;
            if (finBeforeRead)
            {
                await connection.SendAsync(chunks);
                connection.Fin();
                running = middleware.OnConnectionAsync(connection.Context);
            }
            else
            {
                running = middleware.OnConnectionAsync(connection.Context);
                await connection.SendAsync(chunks[0]);
                if (split == header.Length)
                {
                    // The whole header came first: it is passed on before the rest and the FIN arrive, as on a socket
                    // whose FIN comes after the application started reading.
                    await seen.Entered.WaitAsync(ConnectionProbe.Safety);
                }
                else
                {
                    await Task.Yield();
                }

                // The rest of the header, the request and the FIN in one event, whenever the pending read resumes.
                connection.SendWithFin(chunks[1]);
            }

            await running.WaitAsync(ConnectionProbe.Safety);
            Assert.True(seen.Called, $"split {split}: the connection was not passed on");
            Assert.Equal(HalfClose.Client, seen.RemoteEndPoint);
            Assert.False(seen.ClosedOnEntry, $"split {split}: ConnectionClosed had fired before the request was read");
            Assert.Equal(request, seen.Received);
            Assert.True(seen.ClosedAfterEnd, $"split {split}: ConnectionClosed did not fire once the input was read to its end");
        }
    }

    [Theory]
    [MemberData(nameof(HalfClose.VersionsAndFinPlacement), MemberType = typeof(HalfClose))]
    public async Task OnConnection_IncompleteHeaderThenFin_ClosedBeforeHeaderWithTheBytesReceived(int version, bool finBeforeRead)
    {
        byte[] header = HalfClose.Header(version);
        for (int length = 1; length < header.Length; length++)
        {
            using var connection = new FinConnection();
            var seen = new NextObservation();
            var logs = new CapturingLoggerProvider();
            var middleware = CreateMiddleware(seen.RunAsync, logs);
            Task running;
            if (finBeforeRead)
            {
                await connection.SendAsync(header[..length]);
                connection.Fin();
                running = middleware.OnConnectionAsync(connection.Context);
            }
            else
            {
                running = middleware.OnConnectionAsync(connection.Context);
                await connection.SendAsync(header[..length]);
                connection.Fin();
            }

            await running.WaitAsync(ConnectionProbe.Safety);
            Assert.False(seen.Called);
            CapturedLog log = Assert.Single(logs.Entries);
            Assert.Equal(6, log.EventId.Id);
            Assert.Contains($"closed after {length} bytes, before a complete PROXY header", log.Message, StringComparison.Ordinal);
        }
    }

    [Fact]
    public async Task OnConnection_HeaderWithoutFin_PassesOnKestrelsOwnContext()
    {
        using var connection = new FinConnection();
        ConnectionContext? passed = null;
        var middleware = CreateMiddleware(c => { passed = c; return Task.CompletedTask; }, new CapturingLoggerProvider());
        await connection.SendAsync(ConnectionProbe.Concat(HalfClose.Header(2), RawHttpClient.GetRoot));
        await middleware.OnConnectionAsync(connection.Context).WaitAsync(ConnectionProbe.Safety);
        Assert.Same(connection.Context, passed);
    }

    private static ProxyProtocolConnectionMiddleware CreateMiddleware(ConnectionDelegate next, CapturingLoggerProvider logs)
    {
        var errors = new List<string>();
        Assert.True(ProxyProtocolReceiver.TryCreate(new ProxyProtocolOptions(), "ProxyProtocol", errors, out ProxyProtocolReceiver? receiver), string.Join("; ", errors));
        return new ProxyProtocolConnectionMiddleware(next, receiver!, logs.CreateLogger("ProxyKestrel.AspNetCore"), new ProxyProtocolMetrics(null), TimeProvider.System);
    }

    /// <summary>What the next middleware saw: the endpoints, the close token, the bytes left for it.</summary>
    private sealed class NextObservation
    {
        public bool Called { get; private set; }

        public EndPoint? RemoteEndPoint { get; private set; }

        public bool ClosedOnEntry { get; private set; }

        public bool ClosedAfterEnd { get; private set; }

        public byte[] Received { get; private set; } = [];

        /// <summary>Completes once the next middleware has been entered and has looked at the close token.</summary>
        public Task Entered => _entered.Task;

        private readonly TaskCompletionSource _entered = new(TaskCreationOptions.RunContinuationsAsynchronously);

        public async Task RunAsync(ConnectionContext context)
        {
            Called = true;
            RemoteEndPoint = context.RemoteEndPoint;
            ClosedOnEntry = context.ConnectionClosed.IsCancellationRequested;
            _entered.TrySetResult();
            var received = new List<byte>();
            while (true)
            {
                ReadResult read = await context.Transport.Input.ReadAsync();
                received.AddRange(read.Buffer.ToArray());
                context.Transport.Input.AdvanceTo(read.Buffer.End);
                if (read.IsCompleted)
                {
                    break;
                }
            }

            // One more read, as Kestrel makes for the next request: it finds the end of the input.
            ReadResult last = await context.Transport.Input.ReadAsync();
            Assert.True(last.IsCompleted && last.Buffer.IsEmpty);
            context.Transport.Input.AdvanceTo(last.Buffer.End);
            Received = [.. received];
            ClosedAfterEnd = context.ConnectionClosed.IsCancellationRequested;
        }
    }

    /// <summary>An in-memory connection: bytes are flushed into its input one write at a time; <see cref="Fin"/> completes the input and fires ConnectionClosed, as a transport does on a FIN.</summary>
    private sealed class FinConnection : IDisposable
    {
        private readonly Pipe _input = new();
        private readonly Pipe _output = new();
        private readonly CancellationTokenSource _closed = new();

        public FinConnection()
        {
            Context = new DefaultConnectionContext("fin-test", new Duplex(_input.Reader, _output.Writer), new Duplex(_output.Reader, _input.Writer))
            {
                RemoteEndPoint = Proxy,
                LocalEndPoint = new IPEndPoint(IPAddress.Loopback, 8080),
                ConnectionClosed = _closed.Token,
            };
        }

        public DefaultConnectionContext Context { get; }

        public async Task SendAsync(params byte[][] chunks)
        {
            foreach (byte[] chunk in chunks)
            {
                if (chunk.Length > 0)
                {
                    await _input.Writer.WriteAsync(chunk);
                }
            }
        }

        public void Fin()
        {
            _input.Writer.Complete();
            _closed.Cancel();
        }

        /// <summary>
        /// Writes <paramref name="chunk"/> without flushing it, then the FIN: the reader sees the bytes and the end in
        /// the same read, however its pending read is scheduled (a flush before the FIN let a thread-pool read resume
        /// between the two, so the close raced the next middleware's first look).
        /// </summary>
        public void SendWithFin(byte[] chunk)
        {
            _input.Writer.Write(chunk);
            Fin();
        }

        public void Dispose()
        {
            _closed.Dispose();
        }

        private sealed class Duplex(PipeReader input, PipeWriter output) : IDuplexPipe
        {
            public PipeReader Input { get; } = input;

            public PipeWriter Output { get; } = output;
        }
    }
}
