using System.Text;
using ProxyKestrel.Gateway.Mail;
using ProxyKestrel.Gateway.Tests.Infrastructure.Transports;

namespace ProxyKestrel.Gateway.Tests.Mail;

[NotPerTransport("pure protocol logic; no socket")]
public class MailLoginTests
{
    [Theory]
    [InlineData("Imap", "a LOGIN alice Sup3rSecret!\r\n")]
    [InlineData("Pop3", "USER alice\r\nPASS Sup3rSecret!\r\n")]
    [InlineData("Smtp", "EHLO c\r\nAUTH PLAIN AGFsaWNlAFN1cDNyU2VjcmV0IQ==\r\n")]
    public void ToString_LoginFromEachProtocol_HasTheUserButNeverThePassword(string protocol, string stream)
    {
        MailClientDialogue dialogue = MailClientDialogue.Create(Enum.Parse<MailProtocol>(protocol), new MailDialogueOptions { AllowPlaintextLogin = true });

        MailLogin login = MailClientDriver.Run(dialogue, stream).Login!;

        string text = login.ToString();
        Assert.Equal("Sup3rSecret!", Encoding.UTF8.GetString(login.Password.Span));
        Assert.Contains("alice", text);
        Assert.DoesNotContain("Sup3rSecret", text);
        Assert.DoesNotContain(Convert.ToHexString(login.Password.Span), text);
        Assert.DoesNotContain(Convert.ToBase64String(login.Password.Span), text);
        Assert.Contains("redacted", text);
    }

    [Theory]
    [InlineData("AGJvYgBwdw==", true)]
    [InlineData("=", false)]
    [InlineData("AGJvYg==", false)]
    [InlineData("AABwdw==", false)]
    [InlineData("AGJvYgA=", false)]
    [InlineData("AGJvYgBwdw", false)]
    [InlineData("AGJv YgBwdw==", false)]
    [InlineData("/wBib2IAcHc=", false)]
    public void TryDecode_SaslPlainResponses_OnlyWellFormedOnesAccepted(string base64, bool valid)
    {
        bool decoded = MailSaslPlain.TryDecode(Encoding.ASCII.GetBytes(base64), out _, out string user, out byte[] password);

        Assert.Equal(valid, decoded);
        Assert.Equal(valid ? "bob" : "", user);
        Assert.Equal(valid ? "pw" : "", Encoding.UTF8.GetString(password));
    }
}
