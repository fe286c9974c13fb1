namespace MailSync.Core.Sync;

/// <summary>What a job with a POP3 source says beyond source and target.</summary>
public sealed record Pop3JobSettings
{
    /// <summary>"/"-separated target folder path; null means INBOX.</summary>
    public string? TargetFolder { get; init; }

    /// <summary>System flags ("\Seen") and keywords every copy gets; POP3 has no flags of its own.</summary>
    public IReadOnlyList<string> TargetFlags { get; init; } = [];

    /// <summary>Delete from the server the messages whose copy is confirmed and recorded.</summary>
    public bool DeleteFromSource { get; init; }

    /// <summary>With <see cref="DeleteFromSource"/>: only messages whose date is older than this many days.</summary>
    public int? DeleteOlderThanDays { get; init; }
}
