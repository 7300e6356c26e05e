using System.Net;
using static ProxyKestrel.ProxyProtocol.Tests.Receiving.DatagramBytes;

namespace ProxyKestrel.ProxyProtocol.Tests.Receiving;

/// <summary>Allocation assertions for <see cref="ProxyDatagramReceiver"/> (bytes allocated on the current thread).</summary>
public class ProxyDatagramAllocationTests
{
    private const int Loops = 1000;

    private static readonly ProxyDatagramReceiver Receiver = DatagramBytes.Receiver();

    private static readonly ReadOnlyMemory<byte> WithTlvs = Udp4("payload"u8, (ref ProxyV2HeaderWriter w) =>
    {
        w.AddAuthority("dns.example");
        w.AddCrc32C();
    });

    private static long AllocatedBy(Action action)
    {
        for (int i = 0; i < 200; i++)
        {
            action();
        }

        long before = GC.GetAllocatedBytesForCurrentThread();
        for (int i = 0; i < Loops; i++)
        {
            action();
        }

        return GC.GetAllocatedBytesForCurrentThread() - before;
    }

    private static void Expect(ProxyDatagramStatus expected, ProxyDatagramStatus actual, in ProxyDatagram result)
    {
        if (actual != expected || (expected == ProxyDatagramStatus.Accepted && (result.Payload.Length != 7 || !result.Header.TryGetAuthority(out _))))
        {
            throw new InvalidOperationException($"{actual} {result.Rejection}");
        }
    }

    [Fact]
    public void Receive_AcceptedFromSocketAddress_AllocatesNothing()
    {
        SocketAddress remote = new IPEndPoint(IPAddress.Parse("127.0.0.2"), 4000).Serialize();
        Assert.Equal(0, AllocatedBy(() => Expect(ProxyDatagramStatus.Accepted, Receiver.Receive(WithTlvs, remote, out ProxyDatagram r), r)));
    }

    [Fact]
    public void Receive_AcceptedFromMappedIPv6SocketAddress_AllocatesNothing()
    {
        SocketAddress remote = new IPEndPoint(IPAddress.Parse("::ffff:127.0.0.2"), 4000).Serialize();
        Assert.Equal(0, AllocatedBy(() => Expect(ProxyDatagramStatus.Accepted, Receiver.Receive(WithTlvs, remote, out ProxyDatagram r), r)));
    }

    [Fact]
    public void Receive_AcceptedFromEndPoint_AllocatesNothing()
    {
        EndPoint remote = new IPEndPoint(IPAddress.Parse("127.0.0.2"), 4000);
        Assert.Equal(0, AllocatedBy(() => Expect(ProxyDatagramStatus.Accepted, Receiver.Receive(WithTlvs, remote, out ProxyDatagram r), r)));
    }

    [Fact]
    public void Receive_RejectedUntrusted_AllocatesNothing()
    {
        SocketAddress remote = Untrusted.Serialize();
        Assert.Equal(0, AllocatedBy(() => Expect(ProxyDatagramStatus.Rejected, Receiver.Receive(WithTlvs, remote, out ProxyDatagram r), r)));
    }
}
