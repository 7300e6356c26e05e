WebApplicationBuilder builder = WebApplication.CreateBuilder(args);

// --config FILE: an extra JSON file in the same format as appsettings.json, reloaded when it changes.
if (builder.Configuration["config"] is { Length: > 0 } extra)
{
    builder.Configuration.AddJsonFile(Path.GetFullPath(extra), optional: false, reloadOnChange: true);
}

builder.Services.AddReverseProxy().LoadFromConfig(builder.Configuration.GetSection("ReverseProxy"));
builder.Services.AddTcpProxy(builder.Configuration.GetSection("TcpProxy"));

WebApplication app = builder.Build();
app.MapReverseProxy();
app.Run();
