namespace ProxyKestrel.Gateway.Mail;

/// <summary>What <see cref="MailClientDialogue.Process"/> wants the caller to do next.</summary>
internal enum MailClientStep
{
    /// <summary>Every reply so far is written; read more bytes from the client.</summary>
    NeedMore,

    /// <summary>The client's credentials are complete; nothing after them was consumed.</summary>
    Login,

    /// <summary>The client asked for STARTTLS / STLS and the go-ahead is written: flush, do TLS, call TlsStarted.</summary>
    StartTls,

    /// <summary>A final reply is written (or the client is gone): flush and close.</summary>
    Close,
}
