namespace ProxyKestrel.ProxyProtocol;

/// <summary>The address family announced by a header (the high nibble of the v2 family byte).</summary>
public enum ProxyAddressFamily : byte
{
    /// <summary>AF_UNSPEC: unknown or unsupported; the receiver uses the real connection endpoints.</summary>
    Unspecified = 0,

    /// <summary>AF_INET: IPv4, 4-byte addresses and 2-byte ports.</summary>
    InterNetwork = 1,

    /// <summary>AF_INET6: IPv6, 16-byte addresses and 2-byte ports.</summary>
    InterNetworkV6 = 2,

    /// <summary>AF_UNIX: two 108-byte socket paths.</summary>
    Unix = 3,
}
