using System.Text.Json.Serialization;
using ProxyKestrel.AspNetCore;

namespace ProxyKestrel.Samples.WebApp;

/// <summary>The JSON answer of <c>GET /</c>.</summary>
internal sealed record ClientReport(
    string? RemoteIp,
    int RemotePort,
    string? LocalIp,
    int LocalPort,
    ProxyReport? ProxyProtocol)
{
    public static ClientReport From(HttpContext context)
    {
        ConnectionInfo connection = context.Connection;
        IProxyProtocolFeature? proxy = context.Features.Get<IProxyProtocolFeature>();
        return new ClientReport(
            connection.RemoteIpAddress?.ToString(),
            connection.RemotePort,
            connection.LocalIpAddress?.ToString(),
            connection.LocalPort,
            proxy is null ? null : ProxyReport.From(proxy));
    }
}

/// <summary>The <c>proxyProtocol</c> member: what the header said.</summary>
internal sealed record ProxyReport(
    int Version,
    string Command,
    string? ProxyIp,
    int? ProxyPort,
    string? Alpn,
    string? Authority,
    string? UniqueId,
    IReadOnlyList<TlvReport> Tlvs)
{
    public static ProxyReport From(IProxyProtocolFeature feature)
    {
        var proxy = feature.ProxyEndPoint as System.Net.IPEndPoint;
        var tlvs = new List<TlvReport>(feature.Tlvs.Count);
        foreach (ProxyProtocolTlv tlv in feature.Tlvs)
        {
            tlvs.Add(new TlvReport(tlv.Type, Convert.ToBase64String(tlv.Value.Span)));
        }

        return new ProxyReport(
            (int)feature.Version,
            feature.Command.ToString(),
            proxy?.Address.ToString(),
            proxy?.Port,
            feature.Alpn is { } alpn ? System.Text.Encoding.ASCII.GetString(alpn.Span) : null,
            feature.Authority,
            feature.UniqueId is { } id ? Convert.ToBase64String(id.Span) : null,
            tlvs);
    }
}

/// <summary>One TLV: its type and base64 value.</summary>
internal sealed record TlvReport(int Type, string Value);

[JsonSourceGenerationOptions(PropertyNamingPolicy = JsonKnownNamingPolicy.CamelCase, DefaultIgnoreCondition = JsonIgnoreCondition.Never)]
[JsonSerializable(typeof(ClientReport))]
internal sealed partial class ClientReportJsonContext : JsonSerializerContext;
