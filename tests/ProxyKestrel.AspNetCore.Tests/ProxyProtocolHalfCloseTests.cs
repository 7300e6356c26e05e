using System.Net;
using System.Net.Security;
using System.Net.Sockets;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using System.Text;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using ProxyKestrel.AspNetCore.Tests.Infrastructure;

namespace ProxyKestrel.AspNetCore.Tests;

/// <summary>
/// A client (or a proxy relaying one) that half-closes right after its request: whatever arrived before the FIN is
/// parsed, so a complete header is accepted and the request answered, and an incomplete one is refused as closed
/// before the header with the number of bytes that did arrive.
/// </summary>
public sealed class ProxyProtocolHalfCloseTests
{

    [Theory]
    [MemberData(nameof(HalfClose.VersionsAndFinPlacement), MemberType = typeof(HalfClose))]
    public async Task OnConnection_HeaderAndRequestInOneWriteThenFin_HeaderAcceptedAndAnyAnswerIsTheHeadersClient(int version, bool finWithLastByte)
    {
        var logs = new CapturingLoggerProvider();
        await using TestHost host = await TestHost.StartAsync(logger: logs);
        await ExchangeWithFinAsync(host.Port, logs, finWithLastByte, ConnectionProbe.Concat(HalfClose.Header(version), RawHttpClient.GetRoot));
    }

    [Theory]
    [MemberData(nameof(HalfClose.VersionsAndFinPlacement), MemberType = typeof(HalfClose))]
    public async Task OnConnection_HeaderSplitAtEveryPointRestWithRequestThenFin_HeaderAcceptedEveryTime(int version, bool finWithLastByte)
    {
        // The header completes only in the last segment, which also carries the whole request and (or before) the FIN.
        var logs = new CapturingLoggerProvider();
        await using TestHost host = await TestHost.StartAsync(logger: logs);
        byte[] header = HalfClose.Header(version);
        for (int split = 1; split < header.Length; split++)
        {
            await ExchangeWithFinAsync(host.Port, logs, finWithLastByte, header[..split], ConnectionProbe.Concat(header[split..], RawHttpClient.GetRoot));
        }
    }

    [Fact]
    public async Task OnConnection_V2LocalWithUndefinedFamilyThenRequestThenFin_KeepsTheSocketEndpoints()
    {
        await using TestHost host = await TestHost.StartAsync();

        // LOCAL (a health check): the family byte 0xFF is ignored and its 7 bytes of protocol block are skipped.
        byte[] local = [0x0D, 0x0A, 0x0D, 0x0A, 0x00, 0x0D, 0x0A, 0x51, 0x55, 0x49, 0x54, 0x0A, 0x20, 0xFF, 0x00, 0x07, 1, 2, 3, 4, 5, 6, 7];
        using Socket socket = await RawHttpClient.ConnectAsync(host.Port, "127.0.0.2");
        await HalfClose.SendThenFinAsync(socket, finWithLastByte: false, ConnectionProbe.Concat(local, RawHttpClient.GetRoot));
        string raw = await RawHttpClient.ReadToEndAsync(socket, ConnectionProbe.Safety);
        Dictionary<string, string> response = Assert.Single(TestHost.ParseResponses(raw));
        Assert.Equal(socket.LocalEndPoint!.ToString(), response["remote"]);
        Assert.Equal("Local", response["command"]);
    }

    [Theory]
    [MemberData(nameof(HalfClose.VersionsAndFinPlacement), MemberType = typeof(HalfClose))]
    public async Task OnConnection_IncompleteHeaderThenFin_ClosedBeforeHeaderWithTheBytesReceived(int version, bool finWithLastByte)
    {
        var logs = new CapturingLoggerProvider();
        await using TestHost host = await TestHost.StartAsync(logger: logs);
        byte[] header = HalfClose.Header(version);
        for (int length = 1; length < header.Length; length++)
        {
            using Socket socket = await RawHttpClient.ConnectAsync(host.Port);
            await HalfClose.SendThenFinAsync(socket, finWithLastByte, header[..length]);
            await ConnectionProbe.AssertClosedWithNothingWrittenAsync(socket);
            string expected = $"from {socket.LocalEndPoint} closed after {length} bytes, before a complete PROXY header";
            await logs.WaitForAsync(e => e.EventId.Id == 6 && e.Message.Contains(expected, StringComparison.Ordinal), ConnectionProbe.Safety);
        }

        // Each connection was logged once, and as nothing else (not rejected as invalid, nor timed out).
        IEnumerable<CapturedLog> ours = logs.Entries.Where(e => e.Category.StartsWith("ProxyKestrel", StringComparison.Ordinal));
        Assert.Equal(header.Length - 1, ours.Count(e => e.EventId.Id == 6));
        Assert.DoesNotContain(ours, e => e.EventId.Id is 2 or 3);
    }

    public static TheoryData<int> Versions => new() { 1, 2 };

    [Theory]
    [MemberData(nameof(Versions))]
    public async Task OnConnection_TlsHeaderSplitAtEveryPointRestWithClientHello_ReadsHeaderThenHandshakes(int version)
    {
        using X509Certificate2 cert = TestCertificates.CreateSelfSigned();
        string thumbprint = cert.GetCertHashString(HashAlgorithmName.SHA256);
        await using TestHost host = await TestHost.StartAsync(
            useProxyProtocol: false,
            kestrel: k => k.Listen(IPAddress.Loopback, 0, lo =>
            {
                lo.UseProxyProtocol();
                lo.UseHttps(cert);
            }));

        byte[] header = HalfClose.Header(version);
        for (int split = 0; split < header.Length; split++)
        {
            // The rest of the header leaves in one write with the start of the ClientHello: the bytes after the header
            // belong to TLS.
            using Socket socket = await RawHttpClient.ConnectAsync(host.Port);
            if (split > 0)
            {
                await socket.SendAsync(header[..split]);
            }

            await using var tls = new SslStream(new PrefixedStream(new NetworkStream(socket, ownsSocket: false), header[split..]));
            await tls.AuthenticateAsClientAsync(new SslClientAuthenticationOptions
            {
                TargetHost = "localhost",
                RemoteCertificateValidationCallback = (_, certificate, _, _) =>
                    certificate is not null && certificate.GetCertHashString(HashAlgorithmName.SHA256) == thumbprint,
            });
            await tls.WriteAsync(RawHttpClient.GetRoot);
            await tls.FlushAsync();

            using var cts = new CancellationTokenSource(ConnectionProbe.Safety);
            var received = new MemoryStream();
            try
            {
                await tls.CopyToAsync(received, cts.Token);
            }
            catch (IOException)
            {
                // The server may close without close_notify once it has answered.
            }

            Dictionary<string, string> response = Assert.Single(TestHost.ParseResponses(Encoding.UTF8.GetString(received.ToArray())));
            Assert.True(HalfClose.Client.ToString() == response["remote"], $"split at {split}: remote {response["remote"]}");
            Assert.Equal("https", response["scheme"]);
        }
    }

    /// <summary>
    /// Sends the chunks and a FIN; asserts that the header was accepted for this connection (never refused as closed
    /// before it) and that an answer, if Kestrel writes one, is complete and sees the header's client.
    /// </summary>
    /// <remarks>
    /// Whether Kestrel answers is Kestrel's race: its HTTP layer stops writing once it learns of the FIN, which its
    /// socket transport reports one read after the last bytes. The middleware's own part (the bytes before the FIN are
    /// parsed and passed on, and the close is held back until they are read) is pinned deterministically by
    /// <see cref="ProxyProtocolConnectionMiddlewareFinTests"/>.
    /// </remarks>
    private static async Task ExchangeWithFinAsync(int port, CapturingLoggerProvider logs, bool finWithLastByte, params byte[][] chunks)
    {
        using Socket socket = await RawHttpClient.ConnectAsync(port);
        string proxy = socket.LocalEndPoint!.ToString()!;
        await HalfClose.SendThenFinAsync(socket, finWithLastByte, chunks);
        string raw = await RawHttpClient.ReadToEndAsync(socket, ConnectionProbe.Safety);
        string split = $"{chunks[0].Length} + {chunks.Skip(1).Sum(c => c.Length)} bytes";
        await logs.WaitForAsync(
            e => e.EventId.Id == 1 && e.Message.Contains($"accepted from {proxy} ", StringComparison.Ordinal) && e.Message.Contains($"client {HalfClose.Client},", StringComparison.Ordinal),
            ConnectionProbe.Safety);
        Assert.True(
            logs.Entries.Any(e => e.EventId.Id == 1 && e.Message.Contains($"accepted from {proxy} ", StringComparison.Ordinal)),
            $"{split}: the header was not accepted");
        Assert.DoesNotContain(logs.Entries, e => e.EventId.Id is 2 or 3 or 6 && e.Message.Contains(proxy, StringComparison.Ordinal));
        if (raw.Length > 0)
        {
            Dictionary<string, string> response = Assert.Single(TestHost.ParseResponses(raw));
            Assert.True(HalfClose.Client.ToString() == response["remote"], $"{split}: remote {response["remote"]}");
        }
    }

    /// <summary>A stream whose first write is sent together with <c>prefix</c>, in one write.</summary>
    private sealed class PrefixedStream(Stream inner, byte[] prefix) : Stream
    {
        private byte[]? _prefix = prefix;

        public override bool CanRead => true;

        public override bool CanSeek => false;

        public override bool CanWrite => true;

        public override long Length => throw new NotSupportedException();

        public override long Position
        {
            get => throw new NotSupportedException();
            set => throw new NotSupportedException();
        }

        public override void Flush() => inner.Flush();

        public override Task FlushAsync(CancellationToken cancellationToken) => inner.FlushAsync(cancellationToken);

        public override int Read(byte[] buffer, int offset, int count) => inner.Read(buffer, offset, count);

        public override ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default) =>
            inner.ReadAsync(buffer, cancellationToken);

        public override Task<int> ReadAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
            inner.ReadAsync(buffer, offset, count, cancellationToken);

        public override void Write(byte[] buffer, int offset, int count) =>
            inner.Write(TakePrefixed(buffer.AsMemory(offset, count)).Span);

        public override ValueTask WriteAsync(ReadOnlyMemory<byte> buffer, CancellationToken cancellationToken = default) =>
            inner.WriteAsync(TakePrefixed(buffer), cancellationToken);

        public override Task WriteAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
            inner.WriteAsync(TakePrefixed(buffer.AsMemory(offset, count)), cancellationToken).AsTask();

        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();

        public override void SetLength(long value) => throw new NotSupportedException();

        protected override void Dispose(bool disposing)
        {
            if (disposing)
            {
                inner.Dispose();
            }

            base.Dispose(disposing);
        }

        private ReadOnlyMemory<byte> TakePrefixed(ReadOnlyMemory<byte> data)
        {
            byte[]? prefix = Interlocked.Exchange(ref _prefix, null);
            return prefix is null ? data : ConnectionProbe.Concat(prefix, data.ToArray());
        }
    }
}
