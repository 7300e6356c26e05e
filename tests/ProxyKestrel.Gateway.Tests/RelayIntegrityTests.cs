using System.Net.Sockets;
using System.Security.Cryptography;
using ProxyKestrel.Gateway.Tests.Infrastructure;

namespace ProxyKestrel.Gateway.Tests;

public class RelayIntegrityTests
{
    private const long Size = 256L * 1024 * 1024;

    [Fact]
    public async Task Relay_256MiBBothWays_SameSha256OnBothEnds()
    {
        await using var backend = new ProxyBackend();
        await using GatewayHost gateway = await GatewayHost.StartAsync(GatewayRelayTests.Config(backend.Address, "v2"));
        using var client = await Net.ConnectAsync(gateway.EndPointOf("r1"), "127.0.0.10");

        Task<byte[]> send = Task.Run(async () =>
        {
            using var hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
            var random = new Random(20240601);
            byte[] chunk = new byte[256 * 1024];
            for (long left = Size; left > 0; left -= chunk.Length)
            {
                random.NextBytes(chunk);
                hash.AppendData(chunk);
                await Net.SendAllAsync(client, chunk);
            }

            client.Shutdown(SocketShutdown.Send);
            return hash.GetHashAndReset();
        });
        Task<(byte[] Hash, long Count)> receive = Task.Run(async () =>
        {
            using var hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
            byte[] buffer = new byte[256 * 1024];
            long count = 0;
            int n;
            while ((n = await client.ReceiveAsync(buffer, SocketFlags.None)) > 0)
            {
                hash.AppendData(buffer, 0, n);
                count += n;
            }

            return (hash.GetHashAndReset(), count);
        });

        await Task.WhenAll(send, receive).WaitAsync(TimeSpan.FromSeconds(120));

        byte[] sent = await send;
        (byte[] received, long count) = await receive;
        Assert.Equal(Size, count);
        Assert.Equal(Convert.ToHexString(sent), Convert.ToHexString(received));
    }
}
