using ProxyKestrel.Gateway.Configuration;

/// <summary>
/// Adds, changes and removes routes of the <see cref="InMemoryTcpProxyConfigProvider"/>: each change hands the whole
/// new set to <see cref="InMemoryTcpProxyConfigProvider.Update"/>, which refuses invalid routes with every error, and
/// the gateway applies it without closing open connections.
/// </summary>
internal sealed class RouteTable(InMemoryTcpProxyConfigProvider provider)
{
    private readonly Lock _lock = new();

    public IResult List() => Results.Ok(provider.GetConfig().Routes.Select(r => new { r.RouteId, r.Listen, r.ClusterId, r.AllowedClients, r.MaxConnections }));

    public IResult Put(string id, RouteBody body)
    {
        var route = new TcpRouteConfig
        {
            RouteId = id,
            Listen = body.Listen ?? [],
            ClusterId = body.ClusterId ?? string.Empty,
            AllowedClients = body.AllowedClients,
            MaxConnections = body.MaxConnections,
        };
        return Change(routes => [.. routes.Where(r => !IsRoute(r, id)), route]);
    }

    public IResult Delete(string id) => Change(routes => [.. routes.Where(r => !IsRoute(r, id))]);

    private IResult Change(Func<IReadOnlyList<TcpRouteConfig>, TcpRouteConfig[]> change)
    {
        lock (_lock)
        {
            try
            {
                provider.Update(change(provider.GetConfig().Routes));
            }
            catch (ArgumentException e)
            {
                return Results.Problem(e.Message, statusCode: StatusCodes.Status400BadRequest, title: "Invalid route");
            }
        }

        // Accepted: the gateway binds and applies it in the background; a refusal (unknown cluster, endpoint in use)
        // is logged (event 108) and turns /readyz to 503.
        return Results.Accepted("/routes");
    }

    private static bool IsRoute(TcpRouteConfig route, string id) => string.Equals(route.RouteId, id, StringComparison.OrdinalIgnoreCase);
}
