using MailSync.Core.Model;

namespace MailSync.Core.Sync.TwoWay;

/// <summary>What two-way sync does with a message one side expunged. JSON: "deletions".</summary>
public enum DeletionMode
{
    /// <summary>Expunge the other side's copy too (the default).</summary>
    Propagate,

    /// <summary>Move the other side's copy into that side's \Trash folder instead of expunging it.</summary>
    Trash,

    /// <summary>Leave the other side's copy where it is; it is no longer synced.</summary>
    Keep,
}

/// <summary>
/// How far deletions may go in one run before they wait for the user's word: more than
/// <see cref="MinMessages"/> messages and more than <see cref="Percent"/> % of a folder, or a
/// folder the other side emptied or deleted. Held deletions leave the folder as it is; the rest of
/// the run proceeds, and <c>--allow-deletions FOLDER|all</c> confirms them.
/// </summary>
public sealed record DeletionGuardSettings(int MinMessages = 50, int Percent = 10)
{
    public static DeletionGuardSettings Default { get; } = new();
}

/// <summary>The choices of a two-way sync job that change what is written.</summary>
public sealed record SyncPolicy
{
    /// <summary>
    /// Migrate as a policy: writes go to side B only. A's new messages are appended
    /// to B (or paired with B's by content, A's flags added), A's flag changes since the last run
    /// go to B as deltas (B's own changes stay on B and never flow back), nothing is deleted or
    /// moved on either side, no folder is created, renamed or deleted on A, and B-only folders and
    /// messages are left alone.
    /// </summary>
    public static SyncPolicy Migrate { get; } = new() { Name = "migrate", Writable = new(false, true), Deletions = DeletionMode.Keep };

    /// <summary>
    /// The policy's name, recorded with every folder pair it starts (<c>sync_pairs.mode</c>). A
    /// pair another policy wrote is not taken as this one's history: a migrate job's rows read as
    /// two-way rows would make every message the source let go look expunged on A since the last
    /// sync, to be expunged on B. Such a pair is paired again by content instead.
    /// </summary>
    public string Name { get; init; } = "sync";

    /// <summary>Which sides may be written to (isync's <c>ops[2]</c>): both for two-way sync, B only for migrate.</summary>
    public Sides<bool> Writable { get; init; } = new(true, true);

    /// <summary>Only one side may be written to: no moves, no folder renames or deletions, no conflict copies.</summary>
    public bool OneWay => Writable.A != Writable.B;

    public DeletionMode Deletions { get; init; } = DeletionMode.Propagate;

    public DeletionGuardSettings Guard { get; init; } = DeletionGuardSettings.Default;

    /// <summary>
    /// Folders whose held deletions the user confirmed (<c>--allow-deletions</c>), by either side's
    /// full name or logical path; "all" confirms every folder.
    /// </summary>
    public IReadOnlySet<string> AllowDeletions { get; init; } = new HashSet<string>(StringComparer.Ordinal);

    public bool DeletionsAllowed(params string[] names)
        => AllowDeletions.Contains("all") || names.Any(AllowDeletions.Contains);
}
