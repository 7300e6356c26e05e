using System.Buffers;
using System.Text;
using ProxyKestrel.Gateway.Mail;
using ProxyKestrel.Testing;

namespace ProxyKestrel.Gateway.Tests.Mail;

/// <summary>Feeds a backend's bytes to a <see cref="MailBackendLogin"/> in chunks, as a socket would.</summary>
internal static class MailBackendDriver
{
    public static MailBackendRun Run(MailLogin login, string backend, int[] cuts, bool bytewise = false)
    {
        MailBackendLogin replay = MailBackendLogin.Create(login, "gw.test");
        var toBackend = new ArrayBufferWriter<byte>();
        var toClient = new ArrayBufferWriter<byte>();
        byte[] bytes = Encoding.UTF8.GetBytes(backend);
        byte[] pending = [];
        int start = 0;
        int[] ends = [.. cuts.Where(c => c < bytes.Length), bytes.Length];
        for (int i = 0; i < ends.Length; i++)
        {
            pending = [.. pending, .. bytes[start..ends[i]]];
            start = ends[i];
            ReadOnlySequence<byte> input = bytewise ? Sequences.Bytewise(pending) : Sequences.Single(pending);
            MailBackendStep step = replay.Process(ref input, toBackend, toClient, out string? reason);
            pending = input.ToArray();
            if (step != MailBackendStep.NeedMore || i == ends.Length - 1)
            {
                return new MailBackendRun(
                    step, reason, MailClientDriver.Text(toBackend.WrittenMemory), MailClientDriver.Text(toClient.WrittenMemory),
                    Encoding.UTF8.GetString([.. pending, .. bytes[start..]]));
            }
        }

        throw new InvalidOperationException("unreachable");
    }

    /// <summary>The run in one piece, after checking every cut in two and a one-byte-per-segment sequence give the same.</summary>
    public static MailBackendRun AssertSplitInvariant(MailLogin login, string backend)
    {
        MailBackendRun whole = Run(login, backend, []);
        int length = Encoding.UTF8.GetByteCount(backend);
        for (int cut = 0; cut <= length; cut++)
        {
            Assert.Equal(whole, Run(login, backend, [cut]));
        }

        Assert.Equal(whole, Run(login, backend, [], bytewise: true));
        return whole;
    }

    public static MailLogin Login(MailProtocol protocol, string method, string user, string password, string? tag = null, string? helo = null, string? authz = null) => new()
    {
        Protocol = protocol,
        Method = method,
        User = user,
        Password = Encoding.UTF8.GetBytes(password),
        Tag = tag,
        HeloName = helo,
        AuthorizationId = authz is null ? null : (ReadOnlyMemory<byte>?)Encoding.UTF8.GetBytes(authz),
    };
}
