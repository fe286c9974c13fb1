namespace MailSync.Core.Config;

/// <summary>
/// A mail account as the job file describes it. It holds only a <see cref="SecretRef"/>, never the
/// password itself, so printing the record (records print all members) cannot leak the secret.
/// </summary>
public sealed record AccountConfig
{
    internal const int DefaultMaxConnections = 4;
    internal const int DefaultTimeoutSeconds = 120;
    internal const int DefaultRetryAttempts = 5;
    internal const int DefaultRetryDelaySeconds = 2;

    /// <summary>The key under "accounts" in the job file.</summary>
    public required string Name { get; init; }

    public Protocol Protocol { get; init; }

    public required string Host { get; init; }

    public required int Port { get; init; }

    public SecurityMode Security { get; init; } = SecurityMode.Ssl;

    public required string User { get; init; }

    /// <summary>Null only when <see cref="OAuth2Token"/> is set; validation requires one of the two.</summary>
    public SecretRef? Password { get; init; }

    /// <summary>
    /// Where the OAuth2 access token is read from. When set, the login is XOAUTH2 even if
    /// <see cref="AuthMechanism"/> is null (the only mechanism validation lets it be combined with).
    /// </summary>
    public SecretRef? OAuth2Token { get; init; }

    /// <summary>
    /// How to log in, upper case: a SASL mechanism (e.g. "PLAIN", "XOAUTH2") or, for POP3 only,
    /// "USER" (USER/PASS) or "APOP"; null lets the client choose.
    /// </summary>
    public string? AuthMechanism { get; init; }

    /// <summary>The user's consent to security "none" towards a host that is not loopback.</summary>
    public bool AllowInsecure { get; init; }

    /// <summary>Explicit opt-out of TLS certificate checks (self-signed test servers).</summary>
    public bool TrustAnyCertificate { get; init; }

    /// <summary>SHA-256 of the server certificate to pin, as 64 upper-case hex digits without colons.</summary>
    public string? CertificateFingerprint { get; init; }

    public int MaxConnections { get; init; } = DefaultMaxConnections;

    public int TimeoutSeconds { get; init; } = DefaultTimeoutSeconds;

    /// <summary>Bounds on what the server may send (maxResponseLineBytes, maxLiteralBytes, maxFolders, maxMessagesPerFolder).</summary>
    public Stores.ServerLimits Limits { get; init; } = Stores.ServerLimits.Default;

    /// <summary>
    /// How often a transient failure (server busy, mailbox in use, connection dropped) is retried
    /// before it counts; 0 means never.
    /// </summary>
    public int RetryAttempts { get; init; } = DefaultRetryAttempts;

    /// <summary>Wait before the first retry; it doubles with each attempt, with jitter, up to 300 seconds.</summary>
    public int RetryDelaySeconds { get; init; } = DefaultRetryDelaySeconds;

    internal static int DefaultPort(Protocol protocol, SecurityMode security) => (protocol, security) switch
    {
        (Protocol.Imap, SecurityMode.Ssl) => 993,
        (Protocol.Imap, _) => 143,
        (Protocol.Pop3, SecurityMode.Ssl) => 995,
        _ => 110,
    };
}
