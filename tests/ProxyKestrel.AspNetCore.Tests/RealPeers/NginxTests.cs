using System.Text.Json;
using ProxyKestrel.AspNetCore.Tests.Infrastructure;

namespace ProxyKestrel.AspNetCore.Tests.RealPeers;

/// <summary>
/// A real nginx (stream module, <c>proxy_protocol on</c>) in front of the real sample process. nginx or its stream
/// module missing is a failure, never a skip.
/// </summary>
public class NginxTests
{
    [Fact]
    public async Task Get_ThroughNginxStreamProxyProtocol_ReportsClientWithV1()
    {
        await using WebAppProcess app = await PeerAssert.StartAppBehindProxyAsync();
        int port = FreePort.Next();
        await using PeerProcess nginx = await StartNginxStreamAsync(port, app.Port);

        JsonElement json = await PeerAssert.GetAsync(port, "127.0.0.7", app, nginx);

        PeerAssert.AssertProxied(json, "127.0.0.7", 1, port);
    }

    private static async Task<PeerProcess> StartNginxStreamAsync(int port, int appPort)
    {
        string executable = PeerProcess.FindExecutable("nginx", "nginx");
        string module = FindStreamModule();
        string directory = PeerProcess.CreateDirectory("nginx");
        string config = Path.Combine(directory, "nginx.conf");
        string text = $$"""
            load_module {{module}};
            worker_processes 1;
            pid {{directory}}/nginx.pid;
            error_log stderr info;

            events {
              worker_connections 64;
            }

            stream {
              server {
                listen 127.0.0.1:{{port}};
                proxy_pass 127.0.0.1:{{appPort}};
                proxy_protocol on;
                proxy_connect_timeout 5s;
                proxy_timeout 30s;
              }
            }

            """;
        await File.WriteAllTextAsync(config, text);
        try
        {
            return await PeerProcess.StartAsync(executable, ["-c", config, "-p", directory, "-g", "daemon off;"], directory, port);
        }
        catch (InvalidOperationException e)
        {
            throw new InvalidOperationException($"{e.Message}\n--- nginx.conf ---\n{text}", e);
        }
    }

    private static string FindStreamModule()
    {
        string[] candidates =
        [
            "/usr/lib/nginx/modules/ngx_stream_module.so",
            "/usr/lib64/nginx/modules/ngx_stream_module.so",
            "/usr/share/nginx/modules/ngx_stream_module.so",
        ];
        return candidates.FirstOrDefault(File.Exists)
            ?? throw new InvalidOperationException(
                "nginx stream module not installed (Debian package 'libnginx-mod-stream'): run `bash eng/install-peers.sh` "
                + $"(looked at {string.Join(", ", candidates)}).");
    }
}
