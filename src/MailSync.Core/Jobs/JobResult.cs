namespace MailSync.Core.Jobs;

/// <summary>Everything a run of one job found and did, for the summary table and the JSON report.</summary>
public sealed class JobResult
{
    public required string Job { get; init; }
    public JobStatus Status { get; set; } = JobStatus.Succeeded;

    /// <summary>Why the job stopped, when it did (never contains a secret).</summary>
    public string? Error { get; set; }

    public List<FolderResult> Folders { get; } = [];
    public List<MessageFailure> Failures { get; } = [];
    public List<string> Warnings { get; } = [];

    /// <summary>Messages sent to the target by APPEND in this run: zero on a run with nothing new.</summary>
    public int Appended { get; set; }

    /// <summary>Failures this run recovered from by waiting and trying again (reconnects, throttling), with their reasons.</summary>
    public List<string> Recoveries { get; } = [];

    public TimeSpan Duration { get; set; }
    public bool DryRun { get; init; }

    /// <summary>The run was <c>--retry-failed</c>: only messages earlier runs could not copy were attempted.</summary>
    public bool RetryFailed { get; init; }

    /// <summary>What a <c>--retry-failed</c> run did with the earlier failures; null for any other run.</summary>
    public RetryCounts? Retry => RetryFailed ? RetryCounts.From(Folders) : null;
}
