namespace MailSync.Core.Jobs;

/// <summary>How a job ended; the CLI turns the worst status of a run into its exit code.</summary>
public enum JobStatus
{
    Succeeded,
    CompletedWithFailures,
    AccountFailed,
    LedgerFailed,
    Interrupted,
    Failed,

    /// <summary>The server asked to come back later (mailbox in use, login delay) and retries ran out; nothing was lost.</summary>
    TemporarilyUnavailable,

    /// <summary>A server could not be reached: its host name does not resolve, or nothing answers on the port.</summary>
    ServerUnreachable,

    /// <summary>A server's TLS certificate was not trusted, and the account neither pins it nor trusts any.</summary>
    CertificateRejected,

    /// <summary>Encryption was configured but the server does not offer it (no STARTTLS, no TLS on the port); nothing was sent in clear.</summary>
    EncryptionUnavailable,

    /// <summary>
    /// A sync job did everything else, but the mass-delete guard held some folder's deletions:
    /// nothing was deleted there until the user confirms with <c>--allow-deletions</c>.
    /// </summary>
    DeletionsHeld,

    /// <summary>
    /// A server broke the protocol or one of the account's limits (an endless line, a flood of
    /// untagged responses, more folders than maxFolders…): the folders it concerned were skipped,
    /// or the job stopped when it concerned the account. Running again meets the same answer.
    /// </summary>
    ProtocolViolation,
}
