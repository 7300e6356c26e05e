using System.Buffers;
using System.Text;
using ProxyKestrel.Gateway.Configuration;
using ProxyKestrel.Gateway.Lifecycle;
using ProxyKestrel.Gateway.Tests.Infrastructure.Transports;
using ProxyKestrel.Testing;

namespace ProxyKestrel.Gateway.Tests.Lifecycle;

[NotPerTransport("pure parsing; no socket")]
public class ProtocolSnifferTests
{
    public static TheoryData<string, TcpClientProtocol> Starts => new()
    {
        { "GET / HTTP/1.1\r\n", TcpClientProtocol.Http },
        { "POST /x HTTP/1.0\r\n", TcpClientProtocol.Http },
        { "OPTIONS * HTTP/1.1\r\n", TcpClientProtocol.Http },
        { "PATCH /p HTTP/1.1\r\n", TcpClientProtocol.Http },
        { "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n", TcpClientProtocol.Http },
        { "SSH-2.0-OpenSSH_9.2\r\n", TcpClientProtocol.Ssh },
        { "\u0016\u0003\u0001\u0002\u0000", TcpClientProtocol.Tls },
        { "EHLO client\r\n", TcpClientProtocol.Other },
        { "USER alice\r\n", TcpClientProtocol.Other },
        { "get / HTTP/1.1\r\n", TcpClientProtocol.Other },
        { "GETX / HTTP/1.1\r\n", TcpClientProtocol.Other },
        { "\u0016\u0001", TcpClientProtocol.Other },
    };

    [Theory]
    [MemberData(nameof(Starts))]
    public void Sniff_EveryPrefix_UndecidedUntilItDecidesThenTheSame(string text, TcpClientProtocol expected)
    {
        byte[] bytes = Encoding.Latin1.GetBytes(text);
        TcpClientProtocol? decided = null;
        for (int length = 0; length <= bytes.Length; length++)
        {
            TcpClientProtocol? sniffed = ProtocolSniffer.Sniff(new ReadOnlySequence<byte>(bytes, 0, length));
            if (decided is not null)
            {
                Assert.Equal(decided, sniffed);
            }

            decided = sniffed;
        }

        Assert.Equal(expected, decided);
    }

    [Theory]
    [MemberData(nameof(Starts))]
    public void Sniff_OneByteSegments_SameAsContiguous(string text, TcpClientProtocol expected)
    {
        byte[] bytes = Encoding.Latin1.GetBytes(text);
        Assert.Equal(expected, ProtocolSniffer.Sniff(Sequences.Bytewise(bytes)));
    }

    [Fact]
    public void Sniff_Empty_Undecided() => Assert.Null(ProtocolSniffer.Sniff(ReadOnlySequence<byte>.Empty));

    [Theory]
    [InlineData("G")]
    [InlineData("PO")]
    [InlineData("SSH")]
    [InlineData("PRI * HTTP/2.")]
    [InlineData("\u0016")]
    public void Sniff_PrefixOfSeveralOrOne_Undecided(string text) =>
        Assert.Null(ProtocolSniffer.Sniff(new ReadOnlySequence<byte>(Encoding.Latin1.GetBytes(text))));
}
