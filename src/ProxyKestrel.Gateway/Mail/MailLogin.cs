namespace ProxyKestrel.Gateway.Mail;

/// <summary>
/// The credentials a client gave the gateway, to be replayed to the backend chosen from <see cref="User"/>. Its text
/// form never shows the password.
/// </summary>
internal sealed class MailLogin
{
    /// <summary>IMAP LOGIN.</summary>
    public const string MethodLogin = "LOGIN";

    /// <summary>SASL PLAIN (IMAP AUTHENTICATE, POP3 AUTH, SMTP AUTH).</summary>
    public const string MethodPlain = "PLAIN";

    /// <summary>POP3 USER / PASS.</summary>
    public const string MethodUser = "USER";

    /// <summary>SMTP AUTH LOGIN.</summary>
    public const string MethodAuthLogin = "AUTH-LOGIN";

    /// <summary>The protocol the client spoke.</summary>
    public required MailProtocol Protocol { get; init; }

    /// <summary>The authentication identity (SASL authcid, LOGIN / USER name).</summary>
    public required string User { get; init; }

    /// <summary>How the client logged in: one of the Method constants.</summary>
    public required string Method { get; init; }

    /// <summary>The password as the client sent it.</summary>
    public required ReadOnlyMemory<byte> Password { get; init; }

    /// <summary>The SASL authorization identity, when the client gave a non-empty one.</summary>
    public ReadOnlyMemory<byte>? AuthorizationId { get; init; }

    /// <summary>The IMAP tag of the login command (replayed to the backend, so its answer fits the client).</summary>
    public string? Tag { get; init; }

    /// <summary>The SMTP client's EHLO / HELO argument.</summary>
    public string? HeloName { get; init; }

    /// <summary>An authorization identity that is present only when it is not empty.</summary>
    public bool HasAuthorizationId => AuthorizationId is { IsEmpty: false };

    /// <summary>
    /// <paramref name="value"/> as an optional identity (a null array converts implicitly to an empty memory, not to null).
    /// </summary>
    public static ReadOnlyMemory<byte>? Optional(byte[]? value) => value is null ? (ReadOnlyMemory<byte>?)null : new ReadOnlyMemory<byte>(value);

    /// <inheritdoc/>
    public override string ToString() =>
        $"{Protocol} {Method} login of '{MailLines.Sanitize(User)}'" +
        (HasAuthorizationId ? " with an authorization identity" : "") +
        (Tag is null ? "" : $", tag {Tag}") + ", password redacted";
}
