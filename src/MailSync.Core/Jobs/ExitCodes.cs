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
    public const int Interrupted = 130;

    /// <summary>The most serious outcome among the jobs decides.</summary>
    public static int From(IEnumerable<JobResult> results)
    {
        var statuses = results.Select(r => r.Status).ToHashSet();
        if (statuses.Contains(JobStatus.Interrupted)) return Interrupted;
        if (statuses.Contains(JobStatus.LedgerFailed)) return LedgerError;
        if (statuses.Contains(JobStatus.AccountFailed)) return AccountError;
        if (statuses.Contains(JobStatus.Failed)) return InternalError;
        if (statuses.Contains(JobStatus.TemporarilyUnavailable)) return TemporaryFailure;
        if (statuses.Contains(JobStatus.CompletedWithFailures)) return MessagesFailed;
        return Success;
    }
}
