using System.Reflection;
using Microsoft.AspNetCore.Server.Kestrel.Core;

namespace ProxyKestrel.AspNetCore;

/// <summary>
/// The only place that reads Kestrel's non-public members. Kestrel has no public way to read the current endpoint
/// defaults (<see cref="KestrelServerOptions.ConfigureEndpointDefaults"/> only replaces them) nor to list the
/// endpoints created in code with <c>options.Listen(...)</c>; app-wide mode needs both, to add its middleware in
/// front of the application's own defaults and to check that no endpoint was left without it. Per-endpoint mode
/// (<c>listenOptions.UseProxyProtocol()</c>) uses none of this. When an ASP.NET Core update removes or changes a
/// member, <see cref="MissingMembers"/> names it and app-wide mode refuses to start instead of running without
/// headers; <c>ProxyProtocolKestrelInternalsTests</c> fails on such an update.
/// </summary>
internal static class ProxyProtocolKestrelInternals
{
    private const BindingFlags Instance = BindingFlags.Instance | BindingFlags.NonPublic;

    private static readonly PropertyInfo? EndpointDefaultsProperty =
        typeof(KestrelServerOptions).GetProperty("EndpointDefaults", Instance) is { } p && p.PropertyType == typeof(Action<ListenOptions>) && p.CanRead
            ? p
            : null;

    private static readonly PropertyInfo? CodeBackedListenOptionsProperty =
        typeof(KestrelServerOptions).GetProperty("CodeBackedListenOptions", Instance) is { } p
        && typeof(IEnumerable<ListenOptions>).IsAssignableFrom(p.PropertyType) && p.CanRead
            ? p
            : null;

    /// <summary>The members this class needs that the running Kestrel lacks (empty when all are there).</summary>
    public static IReadOnlyList<string> MissingMembers()
    {
        var missing = new List<string>();
        if (EndpointDefaultsProperty is null)
        {
            missing.Add($"{nameof(KestrelServerOptions)}.EndpointDefaults (Action<{nameof(ListenOptions)}>)");
        }

        if (CodeBackedListenOptionsProperty is null)
        {
            missing.Add($"{nameof(KestrelServerOptions)}.CodeBackedListenOptions (IEnumerable<{nameof(ListenOptions)}>)");
        }

        return missing;
    }

    /// <summary>The message for a Kestrel that lacks <paramref name="missing"/>.</summary>
    public static string DescribeMissing(IReadOnlyList<string> missing) =>
        $"app.UseProxyProtocol() cannot check that every Kestrel endpoint reads PROXY headers: this ASP.NET Core "
        + $"({typeof(KestrelServerOptions).Assembly.GetName().Version}) lacks {string.Join(", ", missing)}. Update ProxyKestrel.AspNetCore, "
        + "or use per-endpoint mode instead (call listenOptions.UseProxyProtocol() on each endpoint, before UseHttps()), which needs no Kestrel internals.";

    /// <summary>Kestrel's current endpoint defaults (what <see cref="KestrelServerOptions.ConfigureEndpointDefaults"/> last set).</summary>
    public static Action<ListenOptions>? GetEndpointDefaults(KestrelServerOptions options) =>
        (EndpointDefaultsProperty ?? throw new InvalidOperationException(DescribeMissing(MissingMembers()))).GetValue(options) as Action<ListenOptions>;

    /// <summary>The endpoints created in code (<c>options.Listen(...)</c> and the like), in creation order.</summary>
    public static IReadOnlyList<ListenOptions> GetCodeBackedEndpoints(KestrelServerOptions options) =>
        [.. (IEnumerable<ListenOptions>?)(CodeBackedListenOptionsProperty ?? throw new InvalidOperationException(DescribeMissing(MissingMembers()))).GetValue(options) ?? []];
}
