namespace ProxyKestrel.Gateway.Mail;

/// <summary>What <see cref="MailBackendLogin.Process"/> found in the backend's answers.</summary>
internal enum MailBackendStep
{
    /// <summary>Read more bytes from the backend (commands for it may have been written).</summary>
    NeedMore,

    /// <summary>The backend accepted the login; its answer is written for the client: start relaying.</summary>
    LoggedIn,

    /// <summary>The backend refused the credentials; its answer is written for the client.</summary>
    Rejected,

    /// <summary>The backend said something unexpected; nothing is written for the client.</summary>
    Failed,
}
