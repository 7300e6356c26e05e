using System.Buffers;
using System.Text;
using CsCheck;
using ProxyKestrel.Gateway.Mail;
using ProxyKestrel.Gateway.Tests.Infrastructure.Transports;

namespace ProxyKestrel.Gateway.Tests.Mail;

[NotPerTransport("pure protocol logic; no socket")]
public class ImapQuotingPropertyTests
{
    /// <summary>Pieces that need quoting, escaping, a switch to AUTHENTICATE PLAIN, or nothing; no NUL (PLAIN's separator).</summary>
    private static readonly Gen<string> GenValue = Gen.OneOfConst(
            "a", "Z", "7", " ", "\"", "\\", "\r", "\n", "\t", "{5}", "{3+}", "(", ")", "*", "%", "+", "é", "€", "中", "😀", "NIL", "\u007f")
        .Array[1, 12].Select(string.Concat);

    private static readonly Gen<string?> GenAuthorizationId = Gen.Frequency((3, Gen.Const((string?)null)), (1, GenValue.Select(v => (string?)v)));

    [Fact]
    public void Command_AnyUserAndPassword_ParsesBackToTheSameLoginWithTheClientParser()
    {
        Gen.Select(GenValue, GenValue, GenAuthorizationId, Gen.Bool).Sample((user, password, authz, plain) =>
        {
            var login = new MailLogin
            {
                Protocol = MailProtocol.Imap,
                Method = plain ? MailLogin.MethodPlain : MailLogin.MethodLogin,
                User = user,
                Password = Encoding.UTF8.GetBytes(password),
                AuthorizationId = authz is null ? null : (ReadOnlyMemory<byte>?)Encoding.UTF8.GetBytes(authz),
                Tag = "A1",
            };
            byte[] command = [.. ImapBackendLogin.Command(login), .. "\r\n"u8];
            MailClientDialogue parser = MailClientDialogue.Create(MailProtocol.Imap, new MailDialogueOptions { AllowPlaintextLogin = true });
            var input = new ReadOnlySequence<byte>(command);

            MailClientStep step = parser.Process(ref input, inputEnded: false, new ArrayBufferWriter<byte>(), out MailLogin? parsed);

            Assert.Equal(MailClientStep.Login, step);
            Assert.Equal(0, input.Length);
            Assert.Equal(user, parsed!.User);
            Assert.Equal(password, Encoding.UTF8.GetString(parsed.Password.Span));
            Assert.Equal(authz, parsed.AuthorizationId is { } a ? Encoding.UTF8.GetString(a.Span) : null);
            Assert.Equal("A1", parsed.Tag);
            bool quotable = !plain && authz is null && (user + password).All(c => c is not ('\r' or '\n') && c < 0x80);
            Assert.Equal(quotable ? MailLogin.MethodLogin : MailLogin.MethodPlain, parsed.Method);
        }, iter: 2000);
    }
}
