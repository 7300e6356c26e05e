using Microsoft.AspNetCore.Http;

namespace ProxyKestrel.Gateway.Http;

/// <summary>Where the request transform leaves the inbound request's <see cref="HttpContext"/> for the handler.</summary>
internal static class InboundConnectionKey
{
    /// <summary>The option of the outgoing <see cref="HttpRequestMessage"/> holding the inbound context.</summary>
    public static readonly HttpRequestOptionsKey<HttpContext> HttpContext = new("ProxyKestrel.Gateway.InboundHttpContext");
}
