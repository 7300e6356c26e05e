using System.Buffers;
using System.Text;

namespace ProxyKestrel.Gateway.Mail;

/// <summary>CRLF-terminated lines of the mail protocols: reading them from a sequence split anywhere, writing them.</summary>
internal static class MailLines
{
    private static ReadOnlySpan<byte> Crlf => "\r\n"u8;

    /// <summary>
    /// Reads one line ending in CRLF (a bare LF or CR is part of the line) and consumes it with its CRLF. A line longer
    /// than <paramref name="maxLength"/> is <see cref="MailLineStatus.TooLong"/> as soon as that is certain.
    /// </summary>
    public static MailLineStatus TryReadLine(ref ReadOnlySequence<byte> input, int maxLength, out byte[] line)
    {
        var reader = new SequenceReader<byte>(input);
        if (reader.TryReadTo(out ReadOnlySequence<byte> found, Crlf, advancePastDelimiter: true))
        {
            if (found.Length > maxLength)
            {
                line = [];
                return MailLineStatus.TooLong;
            }

            line = found.ToArray();
            input = input.Slice(reader.Position);
            return MailLineStatus.Line;
        }

        line = [];

        // Without a CRLF the line is at least input.Length - 1 bytes long (the last byte may be the CR).
        return input.Length - 1 > maxLength ? MailLineStatus.TooLong : MailLineStatus.Incomplete;
    }

    /// <summary>Writes <paramref name="text"/> as UTF-8 followed by CRLF.</summary>
    public static void Write(IBufferWriter<byte> writer, string text)
    {
        Encoding.UTF8.GetBytes(text, writer);
        writer.Write(Crlf);
    }

    /// <summary>Writes <paramref name="line"/> as it is, followed by CRLF.</summary>
    public static void Write(IBufferWriter<byte> writer, ReadOnlySpan<byte> line)
    {
        writer.Write(line);
        writer.Write(Crlf);
    }

    /// <summary>Text from the caller or a backend made safe for one reply line or a log: no control characters, bounded.</summary>
    public static string Sanitize(string text, int maxLength = 200)
    {
        var builder = new StringBuilder(Math.Min(text.Length, maxLength));
        foreach (char c in text)
        {
            if (builder.Length == maxLength)
            {
                break;
            }

            builder.Append(char.IsControl(c) ? ' ' : c);
        }

        return builder.ToString();
    }

    /// <summary>A line from a backend as text for a failure reason (never one that can carry credentials).</summary>
    public static string Describe(ReadOnlySpan<byte> line) => Sanitize(Encoding.UTF8.GetString(line[..Math.Min(line.Length, 200)]));

    /// <summary>The line contains NUL or a bare CR or LF, which no command line of POP3 or SMTP may carry.</summary>
    public static bool HasForbiddenControl(ReadOnlySpan<byte> line) => line.IndexOfAny((byte)0, (byte)'\r', (byte)'\n') >= 0;

    /// <summary>Splits "VERB rest" at the first space: the verb in upper case, and the rest after that one space, or null.</summary>
    public static string Verb(ReadOnlySpan<byte> line, out ReadOnlySpan<byte> rest, out bool hasRest)
    {
        int space = line.IndexOf((byte)' ');
        ReadOnlySpan<byte> verb = space < 0 ? line : line[..space];
        hasRest = space >= 0;
        rest = space < 0 ? default : line[(space + 1)..];
        return Encoding.ASCII.GetString(verb).ToUpperInvariant();
    }

    /// <summary>Valid UTF-8 as a string, or null.</summary>
    public static string? Utf8OrNull(ReadOnlySpan<byte> value) =>
        System.Text.Unicode.Utf8.IsValid(value) ? Encoding.UTF8.GetString(value) : null;
}
