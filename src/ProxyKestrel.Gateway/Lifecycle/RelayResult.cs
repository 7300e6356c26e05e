namespace ProxyKestrel.Gateway.Lifecycle;

/// <summary>How a relay ended and the client's bytes it moved each way (the PROXY header is not counted).</summary>
internal readonly record struct RelayResult(RelayEnd End, long BytesUp, long BytesDown);
