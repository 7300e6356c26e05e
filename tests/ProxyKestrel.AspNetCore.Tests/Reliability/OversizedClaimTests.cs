using System.Buffers;
using System.Net;
using Xunit.Abstractions;

namespace ProxyKestrel.AspNetCore.Tests.Reliability;

/// <summary>
/// Oversized claims: a v2 header announcing 65,535 bytes with <c>MaxHeaderSize</c> 4096 is refused from its first 16
/// bytes, by the codec (without allocating) and by the middleware (samples/WebApp as a child process: closed at
/// once after exactly 16 bytes, long before the header timeout, and closed after the 16 while the rest trickles in).
/// </summary>
[Trait("Category", "Reliability")]
[Collection(GarbageSerial.Name)]
public class OversizedClaimTests(ITestOutputHelper output)
{
    private const string Command =
        "PROXYKESTREL_RELIABILITY=full dotnet test tests/ProxyKestrel.AspNetCore.Tests -c Release --filter \"Category=Reliability&FullyQualifiedName~OversizedClaimTests\"";

    private static readonly TimeSpan HeaderTimeout = TimeSpan.FromSeconds(5);

    [Fact]
    public void Parse_V2Claim65535_UndecidedAt15InvalidAt16WithoutAllocating()
    {
        var options = new ProxyHeaderParserOptions { MaxHeaderSize = 4096 };
        byte[] claim = OversizedClaimProbe.Claim(65535);
        byte[] withBody = [.. claim, .. new byte[60 * 1024]];

        // Warm up, then count the bytes allocated by the decisions themselves.
        _ = ProxyHeaderParser.Parse(new ReadOnlySequence<byte>(withBody), options, out _, out _);
        var sequences = new ReadOnlySequence<byte>[17];
        for (int n = 0; n <= 16; n++)
        {
            sequences[n] = new ReadOnlySequence<byte>(claim, 0, n);
        }

        var whole = new ReadOnlySequence<byte>(withBody);
        var statuses = new (ProxyParseStatus, ProxyParseError)[17];
        long allocated = 0;
        ProxyParseStatus wholeStatus = default;
        ProxyParseError wholeError = default;

        // Twice: the first round warms every path up (JIT), the second is measured.
        for (int round = 0; round < 2; round++)
        {
            long before = GC.GetAllocatedBytesForCurrentThread();
            for (int n = 1; n <= 16; n++)
            {
                statuses[n] = (ProxyHeaderParser.Parse(sequences[n], options, out _, out ProxyParseError e), e);
            }

            wholeStatus = ProxyHeaderParser.Parse(whole, options, out _, out wholeError);
            allocated = GC.GetAllocatedBytesForCurrentThread() - before;
        }

        for (int n = 1; n < 16; n++)
        {
            Assert.Equal((ProxyParseStatus.NeedMoreData, ProxyParseError.None), statuses[n]);
        }

        Assert.Equal((ProxyParseStatus.Invalid, ProxyParseError.V2HeaderTooLarge), statuses[16]);
        Assert.Equal((ProxyParseStatus.Invalid, ProxyParseError.V2HeaderTooLarge), (wholeStatus, wholeError));
        Assert.Equal(0, allocated);

        // The boundary: 16 + 4080 = 4096 may still come (undecided after 16 bytes); one more is refused at once.
        Assert.Equal(ProxyParseStatus.NeedMoreData, ProxyHeaderParser.Parse(new ReadOnlySequence<byte>(OversizedClaimProbe.Claim(4080)), options, out _, out _));
        Assert.Equal(ProxyParseStatus.Invalid, ProxyHeaderParser.Parse(new ReadOnlySequence<byte>(OversizedClaimProbe.Claim(4081)), options, out _, out ProxyParseError boundary));
        Assert.Equal(ProxyParseError.V2HeaderTooLarge, boundary);
    }

    [Fact]
    public async Task Connect_V2Claim65535_ClosedAfter16BytesWithoutWaiting()
    {
        await using WebAppProcess app = await WebAppProcess.StartAsync(
        [
            "--ProxyProtocol:TrustedNetworks:0=127.0.0.2/32",
            "--ProxyProtocol:MaxHeaderSize=4096",
            "--ProxyProtocol:HeaderTimeout=00:00:05",
        ]);
        OversizedClaimResult result = await OversizedClaimProbe.RunAsync(
            app.Port, IPAddress.Parse("127.0.0.2"), ReliabilityScale.Pick(20, 1_000), ReliabilityScale.Pick(3, 50), HeaderTimeout);
        output.WriteLine(result.Details);
        ReliabilityResults.Append("hostile", "oversized-claim-webapp",
            "v2 header claiming 65,535 bytes with MaxHeaderSize 4096 against the middleware (samples/WebApp): refused from its first 16 bytes",
            result.Connections, result.Connections, null, null, result.Lost, 0, null, result.Details, Command, result.Passed);
        Assert.True(result.Passed, result.Details);
    }
}
