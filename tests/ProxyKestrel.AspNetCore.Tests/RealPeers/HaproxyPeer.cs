using ProxyKestrel.AspNetCore.Tests.Infrastructure;

namespace ProxyKestrel.AspNetCore.Tests.RealPeers;

/// <summary>Starts a real HAProxy (<c>haproxy -db -f cfg</c>) with one frontend and one backend, for the real-peer tests.</summary>
internal static class HaproxyPeer
{
    /// <summary>
    /// Starts HAProxy in <paramref name="mode"/> (tcp or http) listening on 127.0.0.1:<paramref name="port"/> with the
    /// extra <paramref name="frontendLines"/>, forwarding to the backend line <paramref name="server"/>; with
    /// <paramref name="tls"/>, the frontend terminates TLS on its server certificate (client certificate optional,
    /// verified against its CA).
    /// </summary>
    public static async Task<PeerProcess> StartAsync(
        int port, string mode, string server, TestCertificates? tls = null, params string[] frontendLines)
    {
        string executable = PeerProcess.FindExecutable("haproxy", "haproxy");
        string directory = PeerProcess.CreateDirectory(tls is null ? "haproxy" : "haproxy-tls");
        string bindOptions = "";
        if (tls is not null)
        {
            tls.WritePem(directory);
            bindOptions = $" ssl crt {directory}/server.pem ca-file {directory}/ca.pem verify optional alpn h2,http/1.1";
        }

        string config = Path.Combine(directory, "haproxy.cfg");
        string extra = string.Concat(frontendLines.Select(l => "  " + l + "\n"));
        string text = $"""
            global
              log stderr format raw local0 info

            defaults
              mode {mode}
              log global
              timeout connect 5s
              timeout client 30s
              timeout server 30s

            frontend fe
              bind 127.0.0.1:{port}{bindOptions}
            {extra}  default_backend be

            backend be
              {server}

            """;
        await File.WriteAllTextAsync(config, text);
        try
        {
            return await PeerProcess.StartAsync(executable, ["-db", "-f", config], directory, port);
        }
        catch (InvalidOperationException e)
        {
            throw new InvalidOperationException($"{e.Message}\n--- haproxy.cfg ---\n{text}", e);
        }
    }
}
