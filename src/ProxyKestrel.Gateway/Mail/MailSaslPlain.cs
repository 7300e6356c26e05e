using System.Buffers;
using System.Buffers.Text;
using System.Text;

namespace ProxyKestrel.Gateway.Mail;

/// <summary>SASL base64 responses and the PLAIN mechanism (RFC 4616): authzid NUL authcid NUL passwd.</summary>
internal static class MailSaslPlain
{
    /// <summary>
    /// Decodes one SASL response line: strict base64 without whitespace, or "=" for an empty response (RFC 4954,
    /// RFC 5034, RFC 4959). Returns false for anything else.
    /// </summary>
    public static bool TryDecodeBase64(ReadOnlySpan<byte> text, out byte[] value)
    {
        value = [];
        if (text.SequenceEqual("="u8))
        {
            return true;
        }

        if (text.IsEmpty || text.Length % 4 != 0 || text.IndexOfAny(" \t\r\n"u8) >= 0)
        {
            return false;
        }

        byte[] buffer = new byte[Base64.GetMaxDecodedFromUtf8Length(text.Length)];
        if (Base64.DecodeFromUtf8(text, buffer, out int consumed, out int written) != OperationStatus.Done || consumed != text.Length)
        {
            return false;
        }

        value = buffer.AsSpan(0, written).ToArray();
        return true;
    }

    /// <summary>Splits a decoded PLAIN message; the authcid must be UTF-8 and, like the password, not empty.</summary>
    public static bool TryParse(ReadOnlySpan<byte> message, out byte[]? authorizationId, out string user, out byte[] password)
    {
        authorizationId = null;
        user = "";
        password = [];
        int first = message.IndexOf((byte)0);
        if (first < 0)
        {
            return false;
        }

        ReadOnlySpan<byte> afterFirst = message[(first + 1)..];
        int second = afterFirst.IndexOf((byte)0);
        if (second < 0)
        {
            return false;
        }

        ReadOnlySpan<byte> authcid = afterFirst[..second];
        ReadOnlySpan<byte> passwd = afterFirst[(second + 1)..];
        string? name = MailLines.Utf8OrNull(authcid);
        if (name is null || name.Length == 0 || passwd.IsEmpty || passwd.IndexOf((byte)0) >= 0 || !System.Text.Unicode.Utf8.IsValid(message[..first]))
        {
            return false;
        }

        authorizationId = first == 0 ? null : message[..first].ToArray();
        user = name;
        password = passwd.ToArray();
        return true;
    }

    /// <summary>Decodes a base64 SASL response and parses it as PLAIN.</summary>
    public static bool TryDecode(ReadOnlySpan<byte> base64, out byte[]? authorizationId, out string user, out byte[] password)
    {
        if (!TryDecodeBase64(base64, out byte[] message))
        {
            authorizationId = null;
            user = "";
            password = [];
            return false;
        }

        return TryParse(message, out authorizationId, out user, out password);
    }

    /// <summary>The base64 PLAIN message for <paramref name="login"/>, as ASCII bytes.</summary>
    public static byte[] Encode(MailLogin login)
    {
        ArgumentNullException.ThrowIfNull(login);
        byte[] user = Encoding.UTF8.GetBytes(login.User);
        ReadOnlySpan<byte> authz = login.AuthorizationId is { } a ? a.Span : default;
        byte[] message = new byte[authz.Length + 1 + user.Length + 1 + login.Password.Length];
        authz.CopyTo(message);
        user.CopyTo(message.AsSpan(authz.Length + 1));
        login.Password.Span.CopyTo(message.AsSpan(authz.Length + 1 + user.Length + 1));
        byte[] encoded = new byte[Base64.GetMaxEncodedToUtf8Length(message.Length)];
        Base64.EncodeToUtf8(message, encoded, out _, out int written);
        System.Security.Cryptography.CryptographicOperations.ZeroMemory(message);
        return encoded.AsSpan(0, written).ToArray();
    }
}
