namespace ProxyKestrel.Gateway.Mail;

/// <summary>
/// Splits IMAP command lines into atoms and strings (RFC 9051 §4.3): quoted strings with \" and \\ escapes, and a
/// literal announced at the end of a line as {n} or, non-synchronising (RFC 7888), {n+}.
/// </summary>
internal static class ImapTokenizer
{
    /// <summary>
    /// Finds a literal announcement ending the line: its length (or -1) and whether it is {n+}; <paramref name="text"/>
    /// is the line before it. A length beyond <see cref="int.MaxValue"/> comes back as <see cref="long.MaxValue"/>.
    /// </summary>
    public static long TrailingLiteral(ReadOnlySpan<byte> line, out bool nonSynchronizing, out ReadOnlySpan<byte> text)
    {
        nonSynchronizing = false;
        text = line;
        if (line.IsEmpty || line[^1] != (byte)'}')
        {
            return -1;
        }

        int end = line.Length - 1;
        bool plus = end > 0 && line[end - 1] == (byte)'+';
        int digitsEnd = plus ? end - 1 : end;
        int open = line[..digitsEnd].LastIndexOf((byte)'{');
        if (open < 0 || open == digitsEnd - 1 || (open > 0 && line[open - 1] != (byte)' '))
        {
            return -1;
        }

        long length = 0;
        foreach (byte b in line[(open + 1)..digitsEnd])
        {
            if (b is < (byte)'0' or > (byte)'9')
            {
                return -1;
            }

            length = length > int.MaxValue ? long.MaxValue : length * 10 + (b - '0');
        }

        nonSynchronizing = plus;
        text = line[..open];
        return length;
    }

    /// <summary>
    /// Appends the atoms and quoted strings of <paramref name="text"/> (each parenthesis is an atom of its own, for ID's
    /// list); false on a syntax error.
    /// </summary>
    public static bool Tokenize(ReadOnlySpan<byte> text, List<ImapToken> tokens)
    {
        int i = 0;
        while (i < text.Length)
        {
            byte b = text[i];
            if (b == (byte)' ')
            {
                i++;
                continue;
            }

            if (b is (byte)'(' or (byte)')')
            {
                tokens.Add(new ImapToken([b], IsAtom: true));
                i++;
                continue;
            }

            if (b == (byte)'"')
            {
                var value = new List<byte>();
                i++;
                while (true)
                {
                    if (i == text.Length)
                    {
                        return false;
                    }

                    byte c = text[i++];
                    if (c == (byte)'"')
                    {
                        break;
                    }

                    if (c == (byte)'\\')
                    {
                        if (i == text.Length || text[i] is not ((byte)'"' or (byte)'\\'))
                        {
                            return false;
                        }

                        c = text[i++];
                    }
                    else if (c is 0 or (byte)'\r' or (byte)'\n')
                    {
                        return false;
                    }

                    value.Add(c);
                }

                tokens.Add(new ImapToken([.. value], IsAtom: false));
                continue;
            }

            int start = i;
            while (i < text.Length && text[i] is not ((byte)' ' or (byte)'(' or (byte)')'))
            {
                if (text[i] is 0 or (byte)'\r' or (byte)'\n' or (byte)'"')
                {
                    return false;
                }

                i++;
            }

            tokens.Add(new ImapToken(text[start..i].ToArray(), IsAtom: true));
        }

        return true;
    }

    /// <summary>A tag: ASTRING-CHARs except "+", 7-bit, not empty (RFC 9051 §9).</summary>
    public static bool IsValidTag(ReadOnlySpan<byte> tag)
    {
        if (tag.IsEmpty)
        {
            return false;
        }

        foreach (byte b in tag)
        {
            if (b <= 0x20 || b >= 0x7F || b is (byte)'(' or (byte)')' or (byte)'{' or (byte)'%' or (byte)'*' or (byte)'"' or (byte)'\\' or (byte)'+')
            {
                return false;
            }
        }

        return true;
    }
}
