namespace MailSync.Core.Checkpoints;

/// <summary>
/// The ledger's row for one source folder copied into one target folder: both UIDVALIDITYs and
/// the cursors seen when the pair was last completed. Zero means "not known yet".
/// </summary>
public sealed class FolderPairState
{
    public required long Id { get; init; }
    public required string Job { get; init; }
    public required string SourceFolder { get; init; }
    public required string TargetFolder { get; init; }
    public uint SourceUidValidity { get; set; }
    public uint TargetUidValidity { get; set; }

    /// <summary>Source UIDNEXT when the folder was last completed: no new message if unchanged.</summary>
    public uint SourceUidNext { get; set; }

    public ulong SourceHighestModSeq { get; set; }
    public uint TargetUidNext { get; set; }
    public ulong TargetHighestModSeq { get; set; }
    public DateTimeOffset? CompletedUtc { get; set; }
}
