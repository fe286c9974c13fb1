namespace MailSync.Core.Jobs;

/// <summary>The process exit codes scripts can rely on (documented in README.md).</summary>
public static class ExitCodes
{
    public const int Success = 0;
    public const int InternalError = 1;
    public const int ConfigError = 2;
    public const int MessagesFailed = 3;
    public const int AccountError = 4;
    public const int LedgerError = 5;

    /// <summary>A server said "later" (POP3 [IN-USE], [LOGIN-DELAY], [SYS/TEMP]) and retries ran out: run again later.</summary>
    public const int TemporaryFailure = 6;

    /// <summary>A server could not be reached at the start of a job: unknown host name, connection refused, no route.</summary>
    public const int ServerUnreachable = 7;

    /// <summary>A server's TLS certificate was not trusted (pin it with certificateFingerprint once checked).</summary>
    public const int CertificateRejected = 8;

    /// <summary>"ssl" or "starttls" was configured but the server offers no encryption; nothing was sent in clear.</summary>
    public const int EncryptionUnavailable = 9;

    /// <summary>
    /// A sync job held deletions back (mass-delete guard: a folder emptied or deleted on one side,
    /// or more than the threshold in one run); the rest was synced. Confirm with --allow-deletions.
    /// </summary>
    public const int DeletionsHeld = 10;

    /// <summary>
    /// A server broke the protocol or a limit (maxResponseLineBytes, maxFolders…): a re-run meets
    /// the same answer, unlike 6. The summary names the server and what it did.
    /// </summary>
    public const int ProtocolViolation = 11;

    public const int Interrupted = 130;

    /// <summary>
    /// The most serious outcome among the jobs decides. Problems a user must fix in the setup come
    /// before those that may go away by themselves, and among them the more specific first: a wrong
    /// password or refused certificate is more telling than another job's unreachable server.
    /// </summary>
    public static int From(IEnumerable<JobResult> results)
    {
        var statuses = results.Select(r => r.Status).ToHashSet();
        if (statuses.Contains(JobStatus.Interrupted)) return Interrupted;
        if (statuses.Contains(JobStatus.LedgerFailed)) return LedgerError;
        if (statuses.Contains(JobStatus.AccountFailed)) return AccountError;
        if (statuses.Contains(JobStatus.CertificateRejected)) return CertificateRejected;
        if (statuses.Contains(JobStatus.EncryptionUnavailable)) return EncryptionUnavailable;
        if (statuses.Contains(JobStatus.ServerUnreachable)) return ServerUnreachable;
        if (statuses.Contains(JobStatus.Failed)) return InternalError;
        if (statuses.Contains(JobStatus.ProtocolViolation)) return ProtocolViolation;
        if (statuses.Contains(JobStatus.TemporarilyUnavailable)) return TemporaryFailure;
        if (statuses.Contains(JobStatus.DeletionsHeld)) return DeletionsHeld;
        if (statuses.Contains(JobStatus.CompletedWithFailures)) return MessagesFailed;
        return Success;
    }
}
