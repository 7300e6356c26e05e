namespace ProxyKestrel.ProxyProtocol;

/// <summary>Limits and accepted formats for <see cref="ProxyHeaderParser"/>.</summary>
/// <remarks><c>default(ProxyHeaderParserOptions)</c> behaves like <see cref="Default"/>.</remarks>
public readonly record struct ProxyHeaderParserOptions
{
    private readonly bool _constructed;
    private readonly ProxyProtocolVersions _allowedVersions;
    private readonly int _maxHeaderSize;

    /// <summary>The default maximum size of a v2 header, 16-byte fixed part included: 4096 bytes.</summary>
    public const int DefaultMaxHeaderSize = 4096;

    /// <summary>The smallest maximum that can be set: a v2 TCP/IPv6 header without TLVs (16 + 36 bytes).</summary>
    public const int MinMaxHeaderSize = ProxyHeaderParser.V2FixedLength + 36;

    /// <summary>The largest possible v2 header: 16 + 65535 bytes.</summary>
    public const int MaxMaxHeaderSize = ProxyHeaderParser.V2MaxLength;

    /// <summary>Creates options accepting both versions with the default maximum header size.</summary>
    public ProxyHeaderParserOptions()
    {
        _constructed = true;
        _allowedVersions = ProxyProtocolVersions.All;
        _maxHeaderSize = DefaultMaxHeaderSize;
    }

    /// <summary>Both versions, v2 headers up to <see cref="DefaultMaxHeaderSize"/> bytes.</summary>
    public static ProxyHeaderParserOptions Default { get; } = new();

    /// <summary>Which versions are accepted. A header of another version is invalid as soon as its first bytes show it.</summary>
    public ProxyProtocolVersions AllowedVersions
    {
        get => _constructed ? _allowedVersions : ProxyProtocolVersions.All;
        init => _allowedVersions = value;
    }

    /// <summary>
    /// The largest v2 header accepted, in bytes, fixed part included. A header announcing more is invalid as soon as
    /// its 16-byte fixed part has arrived, without waiting for (or buffering) the rest. v1 lines are always at most
    /// 107 bytes. Values outside [<see cref="MinMaxHeaderSize"/>, <see cref="MaxMaxHeaderSize"/>] are clamped
    /// to that range.
    /// </summary>
    public int MaxHeaderSize
    {
        get => _constructed ? _maxHeaderSize : DefaultMaxHeaderSize;
        init => _maxHeaderSize = value;
    }
}
