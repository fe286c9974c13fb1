using MailSync.Core.Stores;

namespace MailSync.Core.Sync;

/// <summary>Tuning and behaviour switches for one migration run.</summary>
public sealed record MigrationOptions
{
    /// <summary>Plan and count only: no folder is created, nothing is appended, the ledger is not written.</summary>
    public bool DryRun { get; init; }

    /// <summary>
    /// <c>--retry-failed</c>: attempt again only the messages the ledger records as failed, each
    /// through the usual intent-before-APPEND path. Messages never attempted are left for a normal
    /// run, and folder pairs without a failed row are not even opened, so the pass stays cheap.
    /// </summary>
    public bool RetryFailed { get; init; }

    /// <summary>Messages per FETCH/APPEND batch; one ledger transaction records each batch's intents.</summary>
    public int BatchMessages { get; init; } = 50;

    /// <summary>Bytes per batch, so a batch of large messages stays small in memory and on the wire.</summary>
    public long BatchBytes { get; init; } = 4 * 1024 * 1024;

    /// <summary>
    /// Other jobs of the same job file that write into the same target account: reconciliation
    /// leaves the target messages they recorded alone.
    /// </summary>
    public IReadOnlyCollection<string> JobsSharingTarget { get; init; } = [];

    /// <summary>
    /// Messages to copy per connection pair before another pair is worth its logins: a run with
    /// little to do stays on one pair (see SyncEngine.PairsWorthOpening).
    /// </summary>
    public int MessagesPerConnectionPair { get; init; } = 200;

    /// <summary>
    /// <c>--allow-deletions</c>: sync jobs' folders (either side's name or the logical path) whose
    /// deletions held by the mass-delete guard the user confirms; "all" confirms every folder.
    /// </summary>
    public IReadOnlySet<string> AllowDeletions { get; init; } = new HashSet<string>(StringComparer.Ordinal);

    /// <summary>Messages larger than this are spooled to a temporary file instead of memory.</summary>
    public long SpoolToDiskAbove { get; init; } = MessageSpool.DefaultSpoolToDiskAbove;
}
