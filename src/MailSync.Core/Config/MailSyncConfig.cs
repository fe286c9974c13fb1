namespace MailSync.Core.Config;

/// <summary>A validated job file: its accounts (looked up case-insensitively) and its jobs in file order.</summary>
public sealed record MailSyncConfig
{
    public required IReadOnlyDictionary<string, AccountConfig> Accounts { get; init; }

    public required IReadOnlyList<JobConfig> Jobs { get; init; }

    /// <summary>Full path of the file this was loaded from; null when parsed from a string.</summary>
    public string? FilePath { get; init; }
}
