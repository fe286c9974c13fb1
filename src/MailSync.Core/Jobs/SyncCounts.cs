using MailSync.Core.Model;

namespace MailSync.Core.Jobs;

/// <summary>
/// What two-way sync did in one folder pair, per direction: "ToA" counts what was written to
/// side A (the job's "source" account), "ToB" what was written to side B (its "target").
/// </summary>
public sealed class SyncCounts
{
    public int MessagesA { get; set; }
    public int MessagesB { get; set; }
    public int AppendedToA { get; set; }
    public int AppendedToB { get; set; }
    public int FlagsChangedOnA { get; set; }
    public int FlagsChangedOnB { get; set; }
    public int MovedOnA { get; set; }
    public int MovedOnB { get; set; }
    public int DeletedOnA { get; set; }
    public int DeletedOnB { get; set; }

    /// <summary>Deletions on A held back by the mass-delete guard (see <see cref="HeldReason"/>).</summary>
    public int HeldOnA { get; set; }

    public int HeldOnB { get; set; }

    /// <summary>Why deletions were held, and how to confirm them; null when none were.</summary>
    public string? HeldReason { get; set; }

    /// <summary>Messages expunged on one side whose flags changed on the other meanwhile: kept and copied back.</summary>
    public int Conflicts { get; set; }

    /// <summary>Messages found on both sides by content and paired instead of copied (a first sync of two full mailboxes).</summary>
    public int PairedByContent { get; set; }

    /// <summary>Copies an interrupted run had sent whose outcome it never learnt, found on the server.</summary>
    public int Reconciled { get; set; }

    /// <summary>What happened to the folder itself ("created on B", "deleted on A (deleted on B)", …), or null.</summary>
    public string? FolderChange { get; set; }

    public void Appended(Side to, int n) { if (to == Side.A) AppendedToA += n; else AppendedToB += n; }

    public void FlagsChanged(Side on, int n) { if (on == Side.A) FlagsChangedOnA += n; else FlagsChangedOnB += n; }

    public void Moved(Side on, int n) { if (on == Side.A) MovedOnA += n; else MovedOnB += n; }

    public void Deleted(Side on, int n) { if (on == Side.A) DeletedOnA += n; else DeletedOnB += n; }

    public void Held(Side on, int n) { if (on == Side.A) HeldOnA += n; else HeldOnB += n; }

    public int Writes => AppendedToA + AppendedToB + FlagsChangedOnA + FlagsChangedOnB + MovedOnA + MovedOnB + DeletedOnA + DeletedOnB;
}
