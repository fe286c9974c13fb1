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
}
