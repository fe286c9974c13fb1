using MailSync.Core.Model;

namespace MailSync.Core.Checkpoints;

/// <summary>Where one message of a two-way pair stands. Stored as text so the ledger stays readable with the sqlite3 shell.</summary>
public enum SyncState
{
    /// <summary>
    /// On both sides (or, with one UID null, kept on one side on purpose: deletions "keep", or a
    /// trashed copy); <see cref="SyncRow.FlagsA"/>/<see cref="SyncRow.FlagsB"/> are the flags each side had when last synced.
    /// </summary>
    Paired,

    /// <summary>An APPEND (or the MOVE that lands it) toward <see cref="SyncRow.Toward"/> was or was about to be sent; resolved by looking.</summary>
    Pending,

    /// <summary>
    /// The copy on <see cref="SyncRow.Toward"/> was or was about to be moved into another folder pair
    /// (whose Pending row expects it): if it is still in this folder the move never happened.
    /// </summary>
    Moving,

    /// <summary>The copy on <see cref="SyncRow.Toward"/> was or was about to be expunged because the other side expunged its message.</summary>
    Expunging,

    /// <summary>Could not be appended toward <see cref="SyncRow.Toward"/>; <see cref="SyncRow.LastError"/> says why.</summary>
    Failed,
}

/// <summary>
/// One message of a two-way folder pair, side-indexed (isync's <c>uid[2]</c>): either UID may be
/// missing while a copy is on its way or after a deliberate one-sided keep. Sizes are per side
/// because a server may store other bytes than it was given (Courier adds a final newline).
/// </summary>
public sealed record SyncRow(
    long Id,
    uint? UidA,
    uint? UidB,
    SyncState State,
    Side? Toward,
    string? MessageId,
    long InternalDateUnix,
    long SizeA,
    long SizeB,
    string FlagsA,
    string FlagsB,
    uint UidNextBefore = 0,
    int Attempts = 0,
    string? LastError = null)
{
    public uint? Uid(Side side) => side == Side.A ? UidA : UidB;

    public string Flags(Side side) => side == Side.A ? FlagsA : FlagsB;

    public long Size(Side side) => side == Side.A ? SizeA : SizeB;

    public SyncRow WithUid(Side side, uint? uid) => side == Side.A ? this with { UidA = uid } : this with { UidB = uid };

    public SyncRow WithFlags(Side side, string flags) => side == Side.A ? this with { FlagsA = flags } : this with { FlagsB = flags };

    public SyncRow WithSize(Side side, long size) => side == Side.A ? this with { SizeA = size } : this with { SizeB = size };

    /// <summary>The identity used to find the message on a side when UIDs cannot say (after a crash, a UIDVALIDITY change).</summary>
    public ContentKey Key(Side side) => new(MessageId ?? string.Empty, InternalDateUnix, Size(side));
}

/// <summary>What one side of a pair looked like when the pair was last synced completely; zero means not known.</summary>
public sealed record SyncCursor(uint UidValidity, uint UidNext, ulong HighestModSeq, int Count)
{
    public static SyncCursor None { get; } = new(0, 0, 0, 0);
}

/// <summary>The ledger's row for one two-way folder pair: both names and both sides' cursors.</summary>
public sealed class SyncPairState
{
    public required long Id { get; init; }
    public required string Job { get; init; }
    public required string NameA { get; set; }
    public required string NameB { get; set; }
    public SyncCursor CursorA { get; set; } = SyncCursor.None;
    public SyncCursor CursorB { get; set; } = SyncCursor.None;
    public DateTimeOffset? CompletedUtc { get; set; }

    /// <summary>The policy that wrote the pair: <c>sync</c> (two-way) or <c>migrate</c> (see <c>SyncPolicy.Name</c>).</summary>
    public string Mode { get; init; } = "sync";

    /// <summary>
    /// The intent of a RENAME on side A: the folder's old name there, set (with the new names)
    /// before the RENAME and cleared after it. A run finding it set finishes the rename.
    /// </summary>
    public string? RenamingFromA { get; set; }

    public string? RenamingFromB { get; set; }

    /// <summary>Whether the folder was subscribed on side A when last synced; null before the first sync.</summary>
    public bool? SubscribedA { get; set; }

    public bool? SubscribedB { get; set; }

    public string Name(Side side) => side == Side.A ? NameA : NameB;

    public void SetName(Side side, string name)
    {
        if (side == Side.A)
            NameA = name;
        else
            NameB = name;
    }

    public string? RenamingFrom(Side side) => side == Side.A ? RenamingFromA : RenamingFromB;

    public void SetRenamingFrom(Side side, string? name)
    {
        if (side == Side.A)
            RenamingFromA = name;
        else
            RenamingFromB = name;
    }

    public SyncCursor Cursor(Side side) => side == Side.A ? CursorA : CursorB;

    public void SetCursor(Side side, SyncCursor cursor)
    {
        if (side == Side.A)
            CursorA = cursor;
        else
            CursorB = cursor;
    }
}
