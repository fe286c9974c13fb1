namespace MailSync.Core.Stores;

/// <summary>
/// Why a connection or login failed. Each needs a different fix from the user, so each ends the
/// job with its own status and exit code instead of one catch-all "account error".
/// </summary>
public enum StoreConnectFailure
{
    /// <summary>Anything not listed below (a server that does not answer as IMAP/POP3, a dropped greeting).</summary>
    Other,

    /// <summary>The server refused the login: wrong password, revoked token, unsupported mechanism.</summary>
    Authentication,

    /// <summary>No connection at all: the host name does not resolve, nothing listens on the port, no route.</summary>
    Unreachable,

    /// <summary>The server's TLS certificate was not trusted and the account neither pins it nor trusts any.</summary>
    Certificate,

    /// <summary>Encryption was configured but cannot be had: no STARTTLS offered, or no TLS spoken on the port.</summary>
    NotEncrypted,
}
