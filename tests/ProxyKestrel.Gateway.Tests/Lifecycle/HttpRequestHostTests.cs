using System.Buffers;
using System.Text;
using ProxyKestrel.Gateway.Lifecycle;
using ProxyKestrel.Gateway.Tests.Infrastructure.Transports;
using ProxyKestrel.Testing;

namespace ProxyKestrel.Gateway.Tests.Lifecycle;

[NotPerTransport("pure parsing; no socket")]
public class HttpRequestHostTests
{
    public static TheoryData<string, string?> Heads => new()
    {
        { "GET / HTTP/1.1\r\nHost: a.example.com\r\n\r\n", "a.example.com" },
        { "GET / HTTP/1.1\r\nUser-Agent: t\r\nhost:   A.Example.COM:8080  \r\nAccept: */*\r\n\r\n", "a.example.com" },
        { "GET http://b.example.com:81/x?y HTTP/1.1\r\nHost: a.example.com\r\n\r\n", "b.example.com" },
        { "GET / HTTP/1.1\r\nHost: [2001:db8::1]:443\r\n\r\n", "2001:db8::1" },
        { "POST /form HTTP/1.0\r\nHost: c.example.com\r\nContent-Length: 3\r\n\r\nabc", "c.example.com" },
        { "GET / HTTP/1.1\r\nAccept: */*\r\n\r\n", null },
        { "GET / HTTP/1.1\r\nHost: a.example.com\r\nHost: b.example.com\r\n\r\n", null },
        { "GET / HTTP/1.1\r\nHost:\r\n\r\n", null },
        { "GET / HTTP/2.0\r\nHost: a.example.com\r\n\r\n", null },
        { "GET http://user@a.example.com/ HTTP/1.1\r\n\r\n", null },
    };

    [Theory]
    [MemberData(nameof(Heads))]
    public void TryRead_EverySplitPoint_NeedsMoreUntilTheEmptyLineThenTheSameHost(string text, string? expected)
    {
        byte[] bytes = Encoding.Latin1.GetBytes(text);
        int headEnd = text.IndexOf("\r\n\r\n", StringComparison.Ordinal) + 4;
        for (int length = 0; length < headEnd; length++)
        {
            Assert.Equal(HttpHostStatus.NeedMoreData, HttpRequestHost.TryRead(new ReadOnlySequence<byte>(bytes, 0, length), out string? none));
            Assert.Null(none);
        }

        for (int split = 1; split < bytes.Length; split++)
        {
            AssertHost(expected, Sequences.Split(bytes, split));
        }

        AssertHost(expected, Sequences.Bytewise(bytes));
        AssertHost(expected, new ReadOnlySequence<byte>(bytes));
    }

    private static void AssertHost(string? expected, ReadOnlySequence<byte> input)
    {
        HttpHostStatus status = HttpRequestHost.TryRead(input, out string? host);
        Assert.Equal(expected is null ? HttpHostStatus.NotFound : HttpHostStatus.Found, status);
        Assert.Equal(expected, host);
    }
}
