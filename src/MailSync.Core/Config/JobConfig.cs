using System.Collections.ObjectModel;

namespace MailSync.Core.Config;

/// <summary>One job: copy the folders of <see cref="Source"/> into <see cref="Target"/> (migrate), or keep the two in step both ways (sync).</summary>
public sealed record JobConfig
{
    /// <summary>Unique (case-insensitively) and file-name safe, because state and log files are named after it.</summary>
    public required string Name { get; init; }

    public JobMode Mode { get; init; } = JobMode.Migrate;

    /// <summary>Name of the source account.</summary>
    public required string Source { get; init; }

    /// <summary>Name of the target account; always an IMAP account.</summary>
    public required string Target { get; init; }

    /// <summary>Glob patterns on "/"-separated source folder paths; empty means every folder.</summary>
    public IReadOnlyList<string> Include { get; init; } = [];

    /// <summary>Glob patterns on "/"-separated source folder paths that are left out.</summary>
    public IReadOnlyList<string> Exclude { get; init; } = [];

    /// <summary>Source folder path ("/"-separated) to target folder path.</summary>
    public IReadOnlyDictionary<string, string> Renames { get; init; } = ReadOnlyDictionary<string, string>.Empty;

    /// <summary>Target folder under which the whole migrated tree is placed; null for the top level.</summary>
    public string? TargetPrefix { get; init; }

    /// <summary>For POP3 sources, which have a single mailbox: the target folder (null means INBOX).</summary>
    public string? TargetFolder { get; init; }

    /// <summary>
    /// POP3 sources only: delete a message from the POP3 server once its copy is confirmed on the
    /// target (and, with <see cref="DeleteOlderThanDays"/>, only when it is old enough).
    /// </summary>
    public bool DeleteFromSource { get; init; }

    /// <summary>
    /// Only with <see cref="DeleteFromSource"/>: delete only messages whose date (the INTERNALDATE
    /// MailSync gave the copy) is more than this many days in the past; null means no age limit.
    /// </summary>
    public int? DeleteOlderThanDays { get; init; }

    /// <summary>
    /// POP3 sources only (POP3 has no flags): IMAP flags every copy gets on the target, system
    /// flags spelled canonically (e.g. "\Seen") and keywords as written.
    /// </summary>
    public IReadOnlyList<string> TargetFlags { get; init; } = [];

    /// <summary>Sync jobs only: what a message expunged on one side does to its copy on the other.</summary>
    public Sync.TwoWay.DeletionMode Deletions { get; init; } = Sync.TwoWay.DeletionMode.Propagate;

    /// <summary>Sync jobs only: how many deletions in one folder and run go ahead without confirmation.</summary>
    public Sync.TwoWay.DeletionGuardSettings DeletionGuard { get; init; } = Sync.TwoWay.DeletionGuardSettings.Default;
}
