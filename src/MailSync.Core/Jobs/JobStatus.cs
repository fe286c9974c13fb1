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
}
