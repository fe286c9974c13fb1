namespace MailSync.Core.Config;

/// <summary>
/// How the connection to an account is protected. JSON: "ssl" (TLS from the first byte, the
/// default), "starttls" (plain connection upgraded before login) or "none".
/// </summary>
public enum SecurityMode
{
    Ssl,
    StartTls,
    None,
}
