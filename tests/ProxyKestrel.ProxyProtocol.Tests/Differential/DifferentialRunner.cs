using System.Buffers;
using System.Net;
using System.Net.Sockets;
using System.Text;

namespace ProxyKestrel.ProxyProtocol.Tests.Differential;

/// <summary>
/// Runs one corpus case through our parser and through HAProxy and describes each decision as a comparable string:
/// <c>rejected</c>, <c>accepted real</c> (the real socket endpoints are kept), <c>accepted SRC SPORT DST DPORT</c>,
/// <c>http-error STATUS</c> (HAProxy took the header but then failed the HTTP request behind it, i.e. it consumed a
/// different number of bytes), or a diagnostic for anything unexpected.
/// </summary>
public static class DifferentialRunner
{
    public const string Rejected = "rejected";
    public const string AcceptedReal = "accepted real";

    /// <summary>Sent after the header in the same write; also appended to our parser's input.</summary>
    public static ReadOnlySpan<byte> HttpRequest => "GET / HTTP/1.0\r\nHost: x\r\n\r\n"u8;

    private static readonly TimeSpan ReadTimeout = TimeSpan.FromSeconds(3);

    /// <summary>Our decision, with the parse error (if any) as a diagnostic.</summary>
    public static string Ours(DifferentialCase testCase, out string detail)
    {
        byte[] input = [.. testCase.Header.Span, .. HttpRequest];
        var buffer = new ReadOnlySequence<byte>(input);
        ProxyParseStatus status = ProxyHeaderParser.Parse(buffer, ProxyHeaderParserOptions.Default, out ProxyHeader header, out ProxyParseError error);
        switch (status)
        {
            case ProxyParseStatus.Invalid:
                detail = error.ToString();
                return Rejected;
            case ProxyParseStatus.Complete:
                detail = header.ToString();
                if (header.Length != testCase.Header.Length)
                {
                    return $"accepted with Length {header.Length} instead of {testCase.Header.Length}";
                }

                if (!header.HasIPEndPoints)
                {
                    return AcceptedReal;
                }

                IPEndPoint source = header.GetSourceEndPoint()!;
                IPEndPoint destination = header.GetDestinationEndPoint()!;
                return Accepted(source.Address.ToString(), source.Port.ToString(), destination.Address.ToString(), destination.Port.ToString());
            default:
                detail = "";
                return "need-more-data on complete input";
        }
    }

    /// <summary>HAProxy's decision, with the raw response (if any) as a diagnostic.</summary>
    public static async Task<(string Outcome, string Detail)> HaproxyAsync(IPEndPoint endPoint, DifferentialCase testCase)
    {
        using var client = new TcpClient(AddressFamily.InterNetwork) { NoDelay = true };
        await client.ConnectAsync(endPoint).ConfigureAwait(false);
        var local = (IPEndPoint)client.Client.LocalEndPoint!;
        NetworkStream stream = client.GetStream();

        byte[] payload = [.. testCase.Header.Span, .. HttpRequest];
        try
        {
            await stream.WriteAsync(payload).ConfigureAwait(false);
        }
        catch (IOException ex)
        {
            return (Rejected, $"write failed: {ex.Message}");
        }

        using var response = new MemoryStream();
        byte[] chunk = new byte[4096];
        string end = "eof";
        using (var timeout = new CancellationTokenSource(ReadTimeout))
        {
            try
            {
                while (true)
                {
                    int n = await stream.ReadAsync(chunk, timeout.Token).ConfigureAwait(false);
                    if (n == 0)
                    {
                        break;
                    }

                    response.Write(chunk, 0, n);
                }
            }
            catch (OperationCanceledException)
            {
                end = "timeout";
            }
            catch (IOException ex)
            {
                end = ex.InnerException is SocketException se ? se.SocketErrorCode.ToString() : ex.Message;
            }
        }

        string text = Encoding.Latin1.GetString(response.GetBuffer(), 0, (int)response.Length);
        string detail = $"{end}; response: {Truncate(text)}";
        if (text.Length == 0)
        {
            return (end == "timeout" ? "no response (HAProxy waits for more data)" : Rejected, detail);
        }

        if (!text.StartsWith("HTTP/1.", StringComparison.Ordinal) || text.Length < 12)
        {
            return ("non-HTTP response", detail);
        }

        string status = text.Substring(9, 3);
        if (status != "200")
        {
            return ($"http-error {status}", detail);
        }

        int bodyAt = text.IndexOf("\r\n\r\n", StringComparison.Ordinal);
        string[] fields = bodyAt < 0 ? [] : text[(bodyAt + 4)..].Split(' ');
        if (fields.Length != 4)
        {
            return ("unparsable 200 body", detail);
        }

        if (fields[0] == local.Address.ToString() && fields[1] == local.Port.ToString()
            && fields[2] == endPoint.Address.ToString() && fields[3] == endPoint.Port.ToString())
        {
            return (AcceptedReal, detail);
        }

        return (Accepted(Normalize(fields[0]), NormalizePort(fields[1]), Normalize(fields[2]), NormalizePort(fields[3])), detail);
    }

    private static string Accepted(string source, string sourcePort, string destination, string destinationPort) =>
        $"accepted {source} {sourcePort} {destination} {destinationPort}";

    private static string Normalize(string address) =>
        IPAddress.TryParse(address, out IPAddress? parsed) ? parsed.ToString() : address;

    // HAProxy's src_port/dst_port fetches return "no sample" for port 0, which lf-string prints as nothing.
    private static string NormalizePort(string port) => port.Length == 0 ? "0" : port;

    private static string Truncate(string text)
    {
        string escaped = text.Replace("\r", "\\r").Replace("\n", "\\n");
        return escaped.Length <= 160 ? escaped : escaped[..160] + "...";
    }
}
