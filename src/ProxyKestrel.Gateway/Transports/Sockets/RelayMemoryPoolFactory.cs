using System.Buffers;
using Microsoft.AspNetCore.Connections;

namespace ProxyKestrel.Gateway.Transports.Sockets;

/// <summary>Creates a <see cref="RelayMemoryPool"/> for each listener of the TCP routes' transport.</summary>
internal sealed class RelayMemoryPoolFactory(TimeProvider timeProvider) : IMemoryPoolFactory<byte>
{
    public MemoryPool<byte> Create(MemoryPoolOptions? options = null) => new RelayMemoryPool(timeProvider);
}
