namespace ProxyKestrel.ProxyProtocol;

/// <summary>One datagram received by <see cref="ProxyDatagramSocketExtensions.ReceiveProxyDatagramAsync"/>.</summary>
public readonly struct ProxyDatagramReceiveResult
{
    internal ProxyDatagramReceiveResult(ProxyDatagramStatus status, ProxyDatagram datagram, int receivedBytes)
    {
        Status = status;
        Datagram = datagram;
        ReceivedBytes = receivedBytes;
    }

    /// <summary>Accepted, NoHeader or Rejected (drop it; <see cref="ProxyDatagram.Rejection"/> says why).</summary>
    public ProxyDatagramStatus Status { get; }

    /// <summary>The header, the payload (a slice of the receive buffer) and the rejection reason.</summary>
    public ProxyDatagram Datagram { get; }

    /// <summary>The size of the datagram as received, header included.</summary>
    public int ReceivedBytes { get; }
}
