using System.Buffers;
using System.Text;
using ProxyKestrel.Gateway.Mail;
using ProxyKestrel.Testing;

namespace ProxyKestrel.Gateway.Tests.Mail;

/// <summary>Feeds a client's bytes to a <see cref="MailClientDialogue"/> in chunks, as a socket would.</summary>
internal static class MailClientDriver
{
    /// <summary>
    /// Writes the greeting, then feeds <paramref name="stream"/> cut at <paramref name="cuts"/> (ascending), keeping what
    /// the dialogue did not consume in front of the next chunk, until a step other than NeedMore.
    /// </summary>
    public static MailClientRun Run(
        MailClientDialogue dialogue, string stream, int[] cuts, bool inputEnded = false, bool bytewise = false, bool greeting = true)
    {
        var replies = new ArrayBufferWriter<byte>();
        if (greeting)
        {
            dialogue.WriteGreeting(replies);
        }

        return Continue(dialogue, replies, Encoding.UTF8.GetBytes(stream), cuts, inputEnded, bytewise);
    }

    /// <summary>One chunk, as one single- or multi-segment sequence.</summary>
    public static MailClientRun Run(MailClientDialogue dialogue, string stream, bool inputEnded = false, bool bytewise = false, bool greeting = true) =>
        Run(dialogue, stream, [], inputEnded, bytewise, greeting);

    /// <summary>Every way to cut <paramref name="stream"/> in two, each on a fresh dialogue.</summary>
    public static IEnumerable<MailClientRun> EverySplit(Func<MailClientDialogue> create, string stream)
    {
        int length = Encoding.UTF8.GetByteCount(stream);
        for (int cut = 0; cut <= length; cut++)
        {
            yield return Run(create(), stream, [cut]);
        }

        yield return Run(create(), stream, bytewise: true);
        yield return Run(create(), stream, inputEnded: true);
        yield return Run(create(), stream, inputEnded: true, bytewise: true);
    }

    /// <summary>
    /// The stream's run in one piece, after checking that every split, a one-byte-per-segment sequence and an ended
    /// input give the same replies and login, and (when the stream ends with the deciding command) that every proper prefix with the input ended closes
    /// without a login.
    /// </summary>
    public static MailClientRun AssertSplitInvariant(Func<MailClientDialogue> create, string stream)
    {
        MailClientRun whole = Run(create(), stream);
        foreach (MailClientRun run in EverySplit(create, stream))
        {
            Assert.Equal(whole.Replies, run.Replies);
            Assert.Equal(whole.Step, run.Step);
            Assert.Equal(Describe(whole.Login), Describe(run.Login));
            Assert.Equal(whole.Unconsumed, run.Unconsumed);
        }

        // A stream that ends with its deciding command: cut anywhere and ended, it closes without a login.
        byte[] bytes = Encoding.UTF8.GetBytes(stream);
        for (int prefix = 0; prefix < bytes.Length && whole.Unconsumed.Length == 0; prefix++)
        {
            MailClientDialogue dialogue = create();
            var replies = new ArrayBufferWriter<byte>();
            dialogue.WriteGreeting(replies);
            MailClientRun cutShort = Continue(dialogue, replies, bytes[..prefix], [], inputEnded: true, bytewise: false);
            Assert.True(cutShort.Step == MailClientStep.Close, $"prefix of {prefix} bytes: {cutShort.Step}");
            Assert.Null(cutShort.Login);
        }

        return whole;
    }

    /// <summary>Everything about a login but its password's secrecy, for comparisons.</summary>
    public static string Describe(MailLogin? login) => login is null ? "none" :
        $"{login.Protocol}|{login.Method}|{login.User}|{Convert.ToHexString(login.Password.Span)}|" +
        $"{(login.AuthorizationId is { } a ? Convert.ToHexString(a.Span) : "-")}|{login.Tag}|{login.HeloName}";

    public static string Text(ReadOnlyMemory<byte> bytes) => Encoding.UTF8.GetString(bytes.Span);

    private static MailClientRun Continue(
        MailClientDialogue dialogue, ArrayBufferWriter<byte> replies, byte[] bytes, int[] cuts, bool inputEnded, bool bytewise)
    {
        byte[] pending = [];
        int start = 0;
        int[] ends = [.. cuts.Where(c => c < bytes.Length), bytes.Length];
        for (int i = 0; i < ends.Length; i++)
        {
            pending = [.. pending, .. bytes[start..ends[i]]];
            start = ends[i];
            ReadOnlySequence<byte> input = bytewise ? Sequences.Bytewise(pending) : Sequences.Single(pending);
            bool last = i == ends.Length - 1;
            MailClientStep step = dialogue.Process(ref input, inputEnded && last, replies, out MailLogin? login);
            pending = input.ToArray();
            if (step != MailClientStep.NeedMore || last)
            {
                byte[] rest = [.. pending, .. bytes[start..]];
                return new MailClientRun(Text(replies.WrittenMemory), step, login, Encoding.UTF8.GetString(rest));
            }
        }

        throw new InvalidOperationException("unreachable");
    }
}
