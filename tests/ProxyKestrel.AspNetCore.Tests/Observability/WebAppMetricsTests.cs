using System.Globalization;
using System.Text;
using System.Text.RegularExpressions;
using ProxyKestrel.AspNetCore.Tests.Infrastructure;

namespace ProxyKestrel.AspNetCore.Tests.Observability;

/// <summary>
/// The WebApp sample's Prometheus endpoint: after one request with a v1 header and one garbage connection, a scrape
/// (itself sent with a PROXY header: the middleware guards every endpoint) shows the accepted and rejected counters.
/// </summary>
public class WebAppMetricsTests
{
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(10);

    [Fact]
    public async Task Metrics_AfterAcceptedAndRejectedConnections_ScrapeShowsCounters()
    {
        await using WebAppProcess app = await WebAppProcess.StartAsync();
        byte[] v1 = Encoding.ASCII.GetBytes("PROXY TCP4 203.0.113.7 192.0.2.1 51234 443\r\n");

        string ok = await RawHttpClient.ExchangeAsync(app.Port, "127.0.0.1", Timeout, [.. v1, .. RawHttpClient.GetRoot]);
        Assert.StartsWith("HTTP/1.1 200", ok, StringComparison.Ordinal);
        string garbage = await RawHttpClient.ExchangeAsync(app.Port, "127.0.0.1", Timeout, Encoding.ASCII.GetBytes("garbage that is no PROXY header\r\n\r\n"));
        Assert.Equal(string.Empty, garbage);

        string health = await RawHttpClient.ExchangeAsync(
            app.Port, "127.0.0.1", Timeout, [.. v1, .. Encoding.ASCII.GetBytes("GET /healthz HTTP/1.1\r\nHost: test\r\nConnection: close\r\n\r\n")]);
        Assert.StartsWith("HTTP/1.1 200", health, StringComparison.Ordinal);
        Assert.Equal("alive\n", Body(health));

        string accepted = Series("proxykestrel_proxy_protocol_connections_total", ("proxy_protocol_outcome", "accepted"), ("proxy_protocol_version", "1"));
        string rejected = Series("proxykestrel_proxy_protocol_connections_total", ("proxy_protocol_outcome", "rejected"), ("error_type", ""));
        string text = string.Empty;
        long deadline = Environment.TickCount64 + 10_000;
        while (Environment.TickCount64 < deadline)
        {
            string response = await RawHttpClient.ExchangeAsync(
                app.Port, "127.0.0.1", Timeout, [.. v1, .. Encoding.ASCII.GetBytes("GET /metrics HTTP/1.1\r\nHost: test\r\nConnection: close\r\n\r\n")]);
            Assert.StartsWith("HTTP/1.1 200", response, StringComparison.Ordinal);
            text = Body(response);
            if (Value(text, accepted) >= 1 && Value(text, rejected) >= 1)
            {
                break;
            }

            await Task.Delay(200);
        }

        // The first accepted connection is the GET /; the scrapes themselves add more.
        Assert.True(Value(text, accepted) >= 1, text);
        Assert.True(Value(text, rejected) == 1, text);
        Assert.Matches(new Regex("^proxykestrel_proxy_protocol_header_duration_seconds_count\\{[^}]*proxy_protocol_outcome=\"rejected\"[^}]*\\} 1\\r?$", RegexOptions.Multiline), text);
        Assert.Contains("# TYPE proxykestrel_proxy_protocol_connections_total counter", text, StringComparison.Ordinal);
        Assert.Contains("http_server_request_duration_seconds_bucket{", text, StringComparison.Ordinal);
    }

    /// <summary>A regex for one series: the name and the labels (an empty value: any value).</summary>
    private static string Series(string name, params (string Label, string Value)[] labels) =>
        "^" + Regex.Escape(name) + @"\{" + string.Concat(labels.Select(l =>
            l.Value.Length == 0 ? $@"(?=[^}}]*\b{Regex.Escape(l.Label)}="")" : $@"(?=[^}}]*\b{Regex.Escape(l.Label)}=""{Regex.Escape(l.Value)}"")")) + @"[^}]*\} (\S+?)\r?$";

    /// <summary>The body of a raw HTTP/1.1 response, de-chunked when chunked.</summary>
    private static string Body(string response)
    {
        int end = response.IndexOf("\r\n\r\n", StringComparison.Ordinal);
        string headers = response[..end];
        string body = response[(end + 4)..];
        if (!headers.Contains("Transfer-Encoding: chunked", StringComparison.OrdinalIgnoreCase))
        {
            return body;
        }

        var result = new StringBuilder();
        int i = 0;
        while (true)
        {
            int lineEnd = body.IndexOf("\r\n", i, StringComparison.Ordinal);
            int size = int.Parse(body.AsSpan(i, lineEnd - i), NumberStyles.HexNumber, CultureInfo.InvariantCulture);
            if (size == 0)
            {
                return result.ToString();
            }

            // Sizes count bytes; the bodies here are ASCII.
            result.Append(body, lineEnd + 2, size);
            i = lineEnd + 2 + size + 2;
        }
    }

    private static double Value(string text, string series)
    {
        Match m = Regex.Match(text, series, RegexOptions.Multiline);
        return m.Success ? double.Parse(m.Groups[1].Value, CultureInfo.InvariantCulture) : -1;
    }
}
