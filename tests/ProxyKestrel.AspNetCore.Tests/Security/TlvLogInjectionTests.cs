using System.Net;
using System.Text;
using System.Text.Json;
using ProxyKestrel.AspNetCore.Tests.Infrastructure;
using static ProxyKestrel.AspNetCore.Tests.Infrastructure.ConnectionProbe;

namespace ProxyKestrel.AspNetCore.Tests.Security;

/// <summary>
/// docs/security.md, "Log injection through TLV values": a sender controls the bytes of AUTHORITY, UNIQUE_ID and the
/// SSL common name. None of them may reach a log entry or a metric tag (forged lines, terminal escapes, unbounded tag
/// cardinality); the application gets them unchanged through the feature and must encode them itself, as the
/// WebApp sample does (JSON).
/// </summary>
public sealed class TlvLogInjectionTests
{
    private const string Marker = "FORGED";
    private static readonly IPEndPoint Client = new(IPAddress.Parse("203.0.113.7"), 51234);
    private static readonly IPEndPoint Server = new(IPAddress.Parse("198.51.100.1"), 443);

    /// <summary>A forged log line, a clear-screen and a window-title escape, BEL, and a byte that is not UTF-8.</summary>
    private static readonly byte[] Hostile =
        [.. "a.example\r\n2026-01-01 info: FORGED admin logged in\u001b[2J\u001b]0;FORGED\u0007"u8, 0xFF];

    private static byte[] HostileHeader()
    {
        byte[] buffer = new byte[1024];
        var writer = ProxyV2HeaderWriter.Proxy(buffer, Client.Address, Client.Port, Server.Address, Server.Port);
        writer.AddAuthority(Hostile);
        writer.AddUniqueId(Hostile);
        writer.BeginSsl(ProxySslClient.Ssl | ProxySslClient.CertificateOnConnection, 0);
        writer.AddSslSubTlv(ProxyTlvType.SslCommonName, Hostile);
        writer.AddSslSubTlv(ProxyTlvType.SslVersion, Hostile);
        writer.EndSsl();
        writer.AddCrc32C();
        return buffer[..writer.Complete()];
    }

    private static bool CarriesHostileBytes(string? text) =>
        text is not null && (text.Contains(Marker, StringComparison.Ordinal) || text.Contains('\u001b', StringComparison.Ordinal) || text.Contains('\u0007', StringComparison.Ordinal));

    [Fact]
    public async Task OnConnection_ControlBytesInTlvs_NoLogEntryOrMetricTagCarriesThem()
    {
        var logs = new CapturingLoggerProvider();
        await using TestHost host = await TestHost.StartAsync(logger: logs);
        using var recorder = new MeasurementRecorder(host.App.Services);

        string raw = await RawHttpClient.ExchangeAsync(host.Port, "127.0.0.1", Safety, Concat(HostileHeader(), RawHttpClient.GetRoot));

        // Accepted: the header is valid, and the application sees the values unchanged (it must encode them itself).
        Assert.StartsWith("HTTP/1.1 200", raw, StringComparison.Ordinal);
        Assert.Contains($"remote={Client}\n", raw, StringComparison.Ordinal);
        Assert.Contains("authority=a.example\r\n2026-01-01 info: FORGED", raw, StringComparison.Ordinal);

        IReadOnlyList<CapturedLog> accepted = await logs.WaitForAsync(e => e.EventId.Name == "HeaderAccepted", Safety);
        Assert.Single(accepted);
        Assert.Contains(Client.ToString(), accepted[0].Message, StringComparison.Ordinal);
        Assert.NotEmpty(logs.Entries);
        Assert.All(logs.Entries, e => Assert.False(CarriesHostileBytes(e.Message), $"[{e.Category}] {e.Message}"));

        IReadOnlyList<RecordedMeasurement> measurements = await recorder.WaitForAsync("proxykestrel.proxy_protocol.connections", 1, Safety);
        RecordedMeasurement count = Assert.Single(measurements);
        Assert.Equal("accepted", count.Tag("proxy_protocol.outcome"));
        Assert.All(recorder.Measurements, m => Assert.All(m.Tags, t => Assert.False(CarriesHostileBytes(t.Key) || CarriesHostileBytes(t.Value), $"{m.Instrument}: {t.Key}={t.Value}")));
        Assert.All(recorder.Measurements, m => Assert.Subset(
            new HashSet<string> { "proxy_protocol.outcome", "proxy_protocol.version", "proxy_protocol.command" },
            m.Tags.Keys.ToHashSet()));
    }

    [Fact]
    public async Task WebAppSample_ControlBytesInTlvs_ConsoleLogCleanAndJsonEscaped()
    {
        await using WebAppProcess app = await WebAppProcess.StartAsync(["--Logging:LogLevel:Default=Trace", "--Logging:LogLevel:ProxyKestrel=Trace", "--Logging:LogLevel:Microsoft.AspNetCore=Trace"]);

        string response = await RawHttpClient.ExchangeAsync(app.Port, "127.0.0.2", Safety, Concat(HostileHeader(), RawHttpClient.GetRoot));

        // The body is JSON: every control byte is escaped, so the raw answer holds none of them.
        string body = response[(response.IndexOf("\r\n\r\n", StringComparison.Ordinal) + 4)..];
        Assert.DoesNotContain('\u001b', body);
        Assert.DoesNotContain('\u0007', body);
        Assert.DoesNotContain("\r\n2026", body, StringComparison.Ordinal);
        JsonElement proxy = RawHttpClient.JsonBody(response).GetProperty("proxyProtocol");
        Assert.Equal(Encoding.UTF8.GetString(Hostile), proxy.GetProperty("authority").GetString());
        Assert.Equal(Convert.ToBase64String(Hostile), proxy.GetProperty("uniqueId").GetString());

        // The console (simple formatter) logged the accepted header, and no attacker byte with it.
        Assert.True(await app.WaitForOutputAsync("header accepted", Safety), app.Output);
        Assert.DoesNotContain(Marker, app.Output, StringComparison.Ordinal);
        Assert.DoesNotContain("\u001b[2J", app.Output, StringComparison.Ordinal);
        Assert.DoesNotContain("\u001b]0;", app.Output, StringComparison.Ordinal);
    }
}
